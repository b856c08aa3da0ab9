"""README.md cannot drift from the commands: exit codes and the documented test command."""

from __future__ import annotations

import re
from pathlib import Path

from keyserver._cli import errors as cli_errors
from pycontainer.cli.exits import EXIT_CODE_TABLE

README = Path(__file__).resolve().parents[2] / "README.md"


def _section(text: str, title: str) -> str:
    """The body of the '## title' section."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README.md has no section {title!r}"
    return match.group(1)


def _strip_hint(meaning: str) -> str:
    """The table's meanings may end with a hint in parentheses for --help; README omits it."""
    return re.sub(r"\s*\([^)]*\)$", "", meaning)


def test_readme_exit_codes_match_rwc() -> None:
    section = _section(README.read_text(encoding="utf-8"), "Exit codes of `rwc`")
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", section, re.M)
    documented = {int(code): meaning for code, meaning in rows}
    actual = {int(code): _strip_hint(meaning) for code, _, meaning in EXIT_CODE_TABLE}
    assert documented == actual


def test_readme_shows_the_setup_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make test" in text
    assert "make demo" in text
    assert "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start" in text


def test_readme_links_resolve() -> None:
    text = README.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if "://" in target:
            continue
        assert (README.parent / target).exists(), target


def _github_slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, blanks to -.

    Letters of every script stay (the Japanese card's anchor is Japanese); each blank
    becomes one ``-``, so " / " leaves two.
    """
    kept = "".join(ch for ch in heading.strip().lower() if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


def test_readme_anchors_resolve() -> None:
    """Every in-page link names a heading, and the officials' card comes first."""
    text = README.read_text(encoding="utf-8")
    slugs = {_github_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}
    anchors = re.findall(r"\]\(#([^)]+)\)", text)
    # The card links nowhere now (issue 12, seventeenth session: its "found again"
    # line and link were read by every newcomer, and the Console section follows it).
    assert anchors, "no in-page link left to check"
    for anchor in anchors:
        assert anchor in slugs, anchor
    # An official in a hurry reads the five steps first, Japanese first (the third newcomer
    # run spent 8-10 s on a line that only pointed to them).
    first = text.split("\n\n", 2)[1]
    assert first.startswith("## 媒体をなくしたら") and "A medium is lost" in first


def test_readme_keyserver_exit_codes_match() -> None:
    """README shows keyserver's one exit-code table (keyserver._cli.errors), row for row."""
    section = _section(README.read_text(encoding="utf-8"), "Exit codes of `keyserver`")
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", section, re.M)
    documented = {int(code): meaning for code, meaning in rows}
    actual = {int(code): _strip_hint(meaning) for code, _, meaning in cli_errors.EXIT_CODE_TABLE}
    assert documented == actual
    # Every EXIT_* constant is in the table.
    constants = {
        value
        for name, value in vars(cli_errors).items()
        if name.startswith("EXIT_") and isinstance(value, int)
    }
    assert constants == set(actual)


def test_spec_lists_every_keyserver_exit_code() -> None:
    """spec/protocol.md §cli says the exit codes in a sentence: the same codes as the one
    table (keyserver._cli.errors), none missing and none extra (issue 9: the table was
    written out in several places)."""
    spec = (README.parent / "spec" / "protocol.md").read_text(encoding="utf-8")
    match = re.search(r"^- Exit codes: (.*?)\.(?: |$)", spec, re.M | re.S)
    assert match, "spec/protocol.md has no '- Exit codes:' item"
    sentence = " ".join(match.group(1).split())
    # "0 success; 1 a problem ...; 7 unavailable (network, 5xx, database); ...; 130 ..."
    listed = [int(code) for code in re.findall(r"(?:^|; )(\d+) ", sentence)]
    assert listed == [int(code) for code, _, _ in cli_errors.EXIT_CODE_TABLE], sentence


def test_readme_says_nothing_twice() -> None:
    """No heading and no long line of prose appears twice (thirteenth session: a script that
    rewrote the console steps pasted part of the README a second time, and every other README
    test still passed for eight minutes on main). Code blocks are left out: commands repeat."""
    prose: list[str] = []
    in_code = False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code:
            prose.append(line)
    headings = [line for line in prose if line.startswith("#")]
    assert len(headings) == len(set(headings)), sorted(h for h in headings if headings.count(h) > 1)
    long_lines = [line for line in prose if len(line.strip()) >= 60]
    repeated = sorted({line for line in long_lines if long_lines.count(line) > 1})
    assert repeated == [], repeated
