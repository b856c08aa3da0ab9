"""The everyday story from each user's side: the contractor seals, the clerk opens.

Installed ``rwc`` and ``keyserver`` commands, a live server on a loopback port, real
cryptography. See conftest.py for the fixtures.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

PASSWORD = "correct horse battery staple"


def test_seal_list_open_all_and_one(story: Any, h: ModuleType) -> None:
    src, container, _ = story.seal_for_reader()
    expected = h.tree(src)

    # The header is readable offline (no token, no server needed).
    info = story.rwc("info", container, token=None)
    h.expect(info, h.EXIT_OK)
    assert story.server.url.encode() in info.stdout, h.describe(info)

    listing = story.rwc("ls", container, token=story.people.reader_token, password=PASSWORD)
    h.expect(listing, h.EXIT_OK)
    listed = listing.stdout.decode()
    for rel in expected:
        assert rel in listed, h.describe(listing)

    # Open everything: same files, same bytes.
    dest = story.work / "all"
    h.expect(story.open_as_reader(container, dest), h.EXIT_OK)
    got = h.tree(dest)
    top = src.name
    assert got == {f"{top}/{rel}": data for rel, data in expected.items()}

    # Open one file only: only that file is written.
    one = story.work / "one"
    proc = story.open_as_reader(container, one, f"{top}/notes/readme.txt")
    h.expect(proc, h.EXIT_OK)
    assert h.tree(one) == {f"{top}/notes/readme.txt": expected["notes/readme.txt"]}

    # cat streams one file to stdout.
    cat = story.rwc(
        "cat",
        container,
        f"{top}/register.csv",
        token=story.people.reader_token,
        password=PASSWORD,
    )
    h.expect(cat, h.EXIT_OK)
    assert cat.stdout == expected["register.csv"]

    verify = story.rwc("verify", container, token=story.people.reader_token, password=PASSWORD)
    h.expect(verify, h.EXIT_OK)


def test_open_refuses_to_overwrite(story: Any, h: ModuleType) -> None:
    src, container, _ = story.seal_for_reader()
    dest = story.work / "dest"
    h.expect(story.open_as_reader(container, dest), h.EXIT_OK)
    target = dest / src.name / "register.csv"
    target.write_bytes(b"local edits")
    proc = story.open_as_reader(container, dest)
    h.expect(proc, h.EXIT_OUTPUT_EXISTS)
    h.no_traceback(proc)
    assert target.read_bytes() == b"local edits"


def test_seal_refuses_to_overwrite(story: Any, h: ModuleType) -> None:
    _, container, _ = story.seal_for_reader()
    before = container.read_bytes()
    src = story.sample_tree()
    proc = story.seal_as_writer([src], container)
    h.expect(proc, h.EXIT_OUTPUT_EXISTS)
    assert container.read_bytes() == before


def test_seal_without_medium(story: Any, h: ModuleType) -> None:
    # spec §media: a container no loss report can reach is a decision (--no-medium), not
    # an omission: without either option seal refuses before registering anything.
    src = story.sample_tree()
    out = story.work / "no-medium.rwc"
    proc = story.seal_as_writer([src], out)
    h.expect(proc, h.EXIT_USAGE)
    assert b"--medium" in proc.stderr and not out.exists()
    proc = story.seal_as_writer([src], out, extra=["--no-medium"])
    h.expect(proc, h.EXIT_OK)
    status = story.status(story.container_id(out))
    assert status["medium"] is None and status["state"] == "active"
    h.expect(story.open_as_reader(out, story.work / "dest"), h.EXIT_OK)
    # Each input is stored under its base name.
    assert h.tree(story.work / "dest") == {f"{src.name}/{k}": v for k, v in h.tree(src).items()}


def test_password_less_container_opens_without_asking(story: Any, h: ModuleType) -> None:
    # spec §access: rwc asks the server whether the writer used a password before it
    # prompts; a --no-password container opens with no password source at all (no TTY
    # here: asking would have failed with a usage error).
    src = story.sample_tree()
    out = story.work / "open.rwc"
    proc = story.seal_as_writer([src], out, password=None, medium=h.unique("USB"))
    h.expect(proc, h.EXIT_OK)
    dest = story.work / "dest"
    proc = story.rwc("open", out, "-C", dest, token=story.people.reader_token)
    h.expect(proc, h.EXIT_OK)
    assert h.tree(dest) == {f"{src.name}/{k}": v for k, v in h.tree(src).items()}


def test_wrong_password_writes_nothing(story: Any, h: ModuleType) -> None:
    _, container, _ = story.seal_for_reader()
    dest = story.work / "dest"
    proc = story.open_as_reader(container, dest, password="not the password")
    h.expect(proc, h.EXIT_WRONG_PASSWORD)
    h.no_traceback(proc)
    assert h.tree(dest) == {}
    assert h.leftovers(story.work, {"home", "dest"} | _sources(story.work)) == []


def test_reader_not_on_the_policy(story: Any, h: ModuleType) -> None:
    _, container, medium = story.seal_for_reader()
    dest = story.work / "dest"
    proc = story.rwc(
        "open",
        container,
        "-C",
        dest,
        token=story.people.outsider_token,
        password=PASSWORD,
    )
    h.expect(proc, h.EXIT_NOT_ALLOWED)
    h.no_traceback(proc)
    assert h.tree(dest) == {}
    # The refusal is audited: the outsider shows up in the medium's report as refused.
    proc = story.server.ks(
        "report", "--medium", medium, "--json", token=story.people.official_token
    )
    h.expect(proc, 0)
    [entry] = h.parse_json(proc)["containers"]
    tries = [a for a in entry["attempts"] if a["actor"] == story.people.outsider]
    assert [(a["action"], a["outcome"]) for a in tries] == [("evaluate", "refused")]


def test_no_token_and_bad_token(story: Any, h: ModuleType) -> None:
    _, container, _ = story.seal_for_reader()
    for token in (None, "rwc_" + "A" * 43):
        proc = story.rwc("ls", container, token=token, password=PASSWORD)
        # Without a (valid) token the server does not release the key: not allowed.
        h.expect(proc, h.EXIT_NOT_ALLOWED)
        h.no_traceback(proc)
        assert PASSWORD.encode() not in proc.stderr


def test_writer_cannot_open_its_own_container(story: Any, h: ModuleType) -> None:
    # The contractor seals but is not a reader: the medium is useless to it too.
    _, container, _ = story.seal_for_reader()
    proc = story.rwc("ls", container, token=story.people.writer_token, password=PASSWORD)
    h.expect(proc, h.EXIT_NOT_ALLOWED)


def test_corrupt_container(story: Any, h: ModuleType) -> None:
    _, container, _ = story.seal_for_reader()
    data = bytearray(container.read_bytes())
    data[-40] ^= 0x01  # a bit in the last payload chunk
    container.write_bytes(bytes(data))
    dest = story.work / "dest"
    proc = story.open_as_reader(container, dest)
    h.expect(proc, h.EXIT_CORRUPT)
    h.no_traceback(proc)
    assert h.tree(dest) == {}


def test_usage_error(story: Any, h: ModuleType) -> None:
    proc = story.rwc("open", token=None)
    h.expect(proc, h.EXIT_USAGE)
    proc = story.rwc("frobnicate", token=None)
    h.expect(proc, h.EXIT_USAGE)


def _sources(work: Path) -> set[str]:
    """Names in work created by the test itself (sample trees, containers, password files)."""
    return {p.name for p in work.iterdir() if p.name.startswith(("export-", "c-", "password-"))}


def test_reader_logs_in_once(story: Any, h: ModuleType) -> None:
    # README: `rwc login URL` stores the token (0600); later commands need no RWC_TOKEN.
    src, container, _ = story.seal_for_reader()
    token = story.people.reader_token
    proc = story.rwc(
        "login", story.server.url, "--token-stdin", token=None, stdin=(token + "\n").encode()
    )
    h.expect(proc, h.EXIT_OK)
    assert token.encode() not in proc.stdout + proc.stderr
    store = story.work / "home" / ".config" / "rwc" / "tokens.json"
    assert store.stat().st_mode & 0o077 == 0
    proc = story.rwc("ls", container, token=None, password=PASSWORD)
    h.expect(proc, h.EXIT_OK)
    assert f"{src.name}/register.csv".encode() in proc.stdout
    h.expect(story.rwc("logout", story.server.url, token=None), h.EXIT_OK)
    proc = story.rwc("ls", container, token=None, password=PASSWORD)
    h.expect(proc, h.EXIT_NOT_ALLOWED)
