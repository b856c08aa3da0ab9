import itertools
import json
import os
import re
import stat
from pathlib import Path

import pytest

from pycontainer.client.tokens import (
    TokenConfigError,
    TokenScopeError,
    TokenStore,
    check_token,
    config_dir,
    resolve_token,
)
from tests.support.fat import pretend_fat

TOKEN = "rwc_" + "A" * 43
OTHER = "rwc_" + "b" * 43


def test_config_dir_follows_xdg(tmp_path: Path) -> None:
    assert config_dir({"XDG_CONFIG_HOME": str(tmp_path)}) == str(tmp_path / "rwc")
    # A relative XDG_CONFIG_HOME is invalid per the XDG spec and ignored.
    assert config_dir({"XDG_CONFIG_HOME": "rel"}) == str(Path.home() / ".config" / "rwc")


def test_config_dir_without_a_home_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    # expanduser leaves "~" when it knows no home: never a relative "~/.config/rwc".
    monkeypatch.setenv("HOME", "~")
    with pytest.raises(TokenConfigError, match="cannot find your home directory") as info:
        config_dir({})
    assert info.value.hint == "set HOME, or XDG_CONFIG_HOME to an absolute path"


def test_store_modes_and_roundtrip(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "cfg" / "rwc")
    store.put("https://Keys.City.Example/", TOKEN)
    assert stat.S_IMODE(Path(store.path).stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(store.directory).stat().st_mode) == 0o700
    assert store.get("https://keys.city.example") == TOKEN
    store.put("http://127.0.0.1:9", OTHER)
    assert store.servers() == ["http://127.0.0.1:9", "https://keys.city.example"]
    doc = json.loads(Path(store.path).read_text())
    assert doc["version"] == 1
    assert store.remove("https://keys.city.example") is True
    assert store.remove("https://keys.city.example") is False
    assert store.get("https://keys.city.example") is None
    assert stat.S_IMODE(Path(store.path).stat().st_mode) == 0o600
    # No temporary files are left behind.
    assert sorted(p.name for p in Path(store.directory).iterdir()) == ["tokens.json", "tokens.lock"]


def test_store_is_replaced_whole_on_a_fat_file_system(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The store goes through rwc's one atomic publish, no-hard-link fallback included."""
    pretend_fat(monkeypatch)
    store = TokenStore(tmp_path / "rwc")
    store.put("https://keys.city.example", TOKEN)
    store.put("http://127.0.0.1:9", OTHER)  # replaces the first store
    assert store.servers() == ["http://127.0.0.1:9", "https://keys.city.example"]
    assert stat.S_IMODE(Path(store.path).stat().st_mode) == 0o600
    assert sorted(p.name for p in Path(store.directory).iterdir()) == ["tokens.json", "tokens.lock"]


def test_store_refuses_group_readable_file(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.put("https://keys.city.example", TOKEN)
    Path(store.path).chmod(0o644)
    with pytest.raises(TokenConfigError, match="readable by other users"):
        store.get("https://keys.city.example")


def test_store_refuses_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text('{"version": 1, "tokens": {}}')
    target.chmod(0o600)
    (tmp_path / "rwc").mkdir(mode=0o700)
    (tmp_path / "rwc" / "tokens.json").symlink_to(target)
    with pytest.raises(TokenConfigError):
        TokenStore(tmp_path / "rwc").get("https://keys.city.example")


def test_store_that_is_a_directory(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    Path(store.path).mkdir(mode=0o700)
    with pytest.raises(TokenConfigError, match=r"tokens\.json is not a file$") as info:
        store.get("https://keys.city.example")
    assert info.value.hint == "move it away and run `rwc login URL` again"


def test_damaged_store(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    fd = os.open(store.path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"{not json")
    os.close(fd)
    with pytest.raises(TokenConfigError, match="damaged"):
        store.get("https://keys.city.example")


def test_env_token_only_for_a_named_server(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.put("https://b.example", OTHER)
    env = {"RWC_TOKEN": TOKEN}
    # Named by the user (--server, RWC_SERVER): RWC_TOKEN wins over a stored token.
    assert resolve_token("https://b.example", named=True, env=env, store=store) == TOKEN
    assert resolve_token("https://a.example", named=True, env=env, store=store) == TOKEN
    # From a container header: never RWC_TOKEN; the stored token for exactly that URL.
    assert resolve_token("https://B.example/", named=False, env=env, store=store) == OTHER
    with pytest.raises(TokenScopeError, match="no key server was named") as info:
        resolve_token("https://a.example", named=False, env=env, store=store)
    assert TOKEN not in str(info.value) and "RWC_SERVER" in (info.value.hint or "")


def test_stored_token_only_for_its_own_server(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.put("https://b.example", OTHER)
    for named in (True, False):
        assert resolve_token("https://b.example", named=named, env={}, store=store) == OTHER
        assert resolve_token("https://c.example", named=named, env={}, store=store) is None
        assert resolve_token("https://b.example/x", named=named, env={}, store=store) is None


@pytest.mark.parametrize("bad", ["", "  ", "rwc_abc def", "rwc_\nx", "tök", "x" * 2000])
def test_bad_tokens_refused_without_echo(bad: str) -> None:
    with pytest.raises(TokenConfigError) as info:
        check_token(bad)
    if bad.strip():
        assert bad.strip() not in str(info.value)


def test_tokens_accepted_are_rfc6750_b64tokens() -> None:
    # check_token checks the b64token grammar with str methods, not a regular expression
    # (issue 15): it accepts exactly what the grammar's expression matches.
    b64token = re.compile(r"[A-Za-z0-9._~+/-]+=*")

    def accepted(text: str) -> bool:
        try:
            check_token(text)
        except TokenConfigError:
            return False
        return True

    wrong = [
        text
        for n in range(5)
        for text in map("".join, itertools.product("aZ09._~+/-=é%", repeat=n))
        if accepted(text) != bool(b64token.fullmatch(text))
    ]
    assert wrong == []


def test_token_is_stripped() -> None:
    assert check_token(f"  {TOKEN}\n") == TOKEN
