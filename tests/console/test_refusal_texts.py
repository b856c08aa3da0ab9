"""Every refusal an official can meet in the console is in the catalogue, in both languages.

The console shows a refusal's detail in the page's language (its catalogue message,
keyserver/domain/errors.py ``KeyServerError.message``), while the API's problem document
keeps the English text for clients. A refusal written as a plain string would put English
on a Japanese page: the modules the console's service calls run through are read here,
and every refusal they construct must take its detail from ``N_(...)``; a module added
later is read too unless it is named below with the reason the console never shows it.
The modules of the API's refusals to readers and writers (the release path, the HTTP
layer, the services of register, access and receipt) are read too: `rwc` asks for their
details in its reader's language.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from keyserver.domain.errors import _CLASSES, ConflictError, InvalidRequestError, NotFoundError
from keyserver.domain.i18n import N_, translate
from keyserver.domain.validation import check_text

ROOT = Path(__file__).resolve().parents[2] / "keyserver"
# The console's code and every service, domain and store module it calls into are read,
# a new module too, except these, which the console never shows a refusal of (why each):
NOT_SHOWN_IN_THE_CONSOLE = {
    "service/restore.py": "the host command `keyserver restore-backup --replay`",
    "service/rotation.py": "the host command `keyserver rotate-master-key`",
    "service/transparency.py": "the transparency API of witnesses and auditors' tools",
    "store/tlog.py": "the transparency log's tree, read by the transparency API",
}
CONSOLE_REACHES = [
    path
    for folder in ("http/console", "service", "domain", "store")
    for path in sorted((ROOT / folder).glob("*.py"))
    if str(path.relative_to(ROOT)) not in NOT_SHOWN_IN_THE_CONSOLE
]
_REFUSALS = {cls.__name__ for cls in _CLASSES}
# Refusals a reader or writer meets on the API only (issue 12): the key-release path and
# the HTTP layer's own problems. `rwc` asks for them in its reader's language
# (Accept-Language, spec §problems), so they are read by the same rule.
API_ONLY = [
    path
    for pattern in ("release/*.py", "http/*.py", "http/routers/*.py")
    for path in sorted(ROOT.glob(pattern))
]


def _plain_refusals(path: Path) -> list[str]:
    """Refusals in ``path`` whose detail is a plain string, not a catalogue message."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name in _REFUSALS and isinstance(node.args[0], ast.Constant | ast.JoinedStr | ast.BinOp):
            found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("path", CONSOLE_REACHES + API_ONLY, ids=lambda p: str(p.relative_to(ROOT)))
def test_console_refusals_come_from_the_catalogue(path: Path) -> None:
    assert _plain_refusals(path) == []


def test_the_api_keeps_english_and_the_console_translates() -> None:
    err = NotFoundError(N_("no medium %(medium)s", medium="'X'"), suggests="medium")
    assert err.detail == "no medium 'X'"
    assert err.problem()["detail"] == "no medium 'X'"
    assert "suggests" not in err.problem()  # what the console links to is not a member
    assert err.message is not None
    assert err.message.text("ja") == translate("ja", "no medium %(medium)s", {"medium": "'X'"})
    assert err.message.text("ja") != err.detail
    # A field named in a refusal: its protocol name in English, Japanese on a page.
    with pytest.raises(InvalidRequestError) as caught:
        check_text("", "public_reason")
    assert caught.value.detail == "public_reason must be 1..200 printable characters"
    assert caught.value.message is not None
    assert "public_reason" not in caught.value.message.text("ja")


def test_conflict_detail_is_kept_for_the_api() -> None:
    assert str(ConflictError(N_("a principal named %(name)s exists", name="'x'"))) == (
        "a principal named 'x' exists"
    )


@pytest.mark.parametrize("name", sorted(NOT_SHOWN_IN_THE_CONSOLE))
def test_every_module_left_out_exists(name: str) -> None:
    """A module that moved or went away leaves the list (its code is read again)."""
    assert (ROOT / name).is_file()
