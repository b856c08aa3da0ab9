"""The console's audit log and ``keyserver audit list`` say an entry in the same words (issue 12,
cli48).

The console's audit page showed an action as the protocol's word (``evaluate``) and the
command ``鍵の要求 (evaluate)`` in Japanese; the command said an outcome ``ok`` / 正常 where
the console said "Succeeded" / 成功. Both now say the words of one policy
(keyserver/_domain/state_words.py), the word the action filters take after them. Over a
real socket, one key server read by the console and by the command, in both languages.
"""

from __future__ import annotations

import html
import io
import re

import pytest

from keyserver._cli.main import main
from keyserver._domain.settings import Settings
from tests.support.console import signed_in_session
from tests.support.processes import clean_env
from tests.support.world import activate, make_world, oprf

WORDS = {
    "ja": ("鍵の要求 (evaluate)", "登録 (register)", "成功"),
    "en": ("Key requested (evaluate)", "Registered (register)", "Succeeded"),
}


def _command(url: str, token: str, language: str, cid: str) -> str:
    """``keyserver audit list --container CID --server URL``'s text, in ``language``."""
    out, err = io.StringIO(), io.StringIO()
    env = clean_env(KEYSERVER_LANG=language, KEYSERVER_TOKEN=token)
    argv = ["audit", "list", "--container", cid, "--server", url]
    code = main(argv, stdin=io.StringIO(""), stdout=out, stderr=err, env=env)
    assert code == 0, err.getvalue()
    return out.getvalue()


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_audit_page_and_the_command_say_one_word(
    settings: Settings, console_url: str, language: str
) -> None:
    world = make_world(settings, console_url)
    try:
        reg, _ = activate(world, medium="USB-AUDIT", label="ledger")
        cid = reg["container_id"]
        oprf(world, "reader", cid, reg["public_key"])
        browser = signed_in_session(console_url, world.tokens["official"], language)
        page = browser.get(f"{console_url}/console/audit", params={"container": cid}, timeout=30)
        assert page.status_code == 200, page.text[:500]
        cells = [
            re.sub(r"<[^>]+>", "", html.unescape(c))
            for c in re.findall(r"<td[^>]*>(.*?)</td>", page.text)
        ]
        said = _command(console_url, world.tokens["official"], language, cid)
        for word in WORDS[language]:
            assert word in cells, (word, cells)
            assert word in said, said
        assert "evaluate" not in cells and "ok" not in cells, cells  # no bare protocol word
        assert "正常" not in said and "│ ok " not in said, said
    finally:
        world.close()
