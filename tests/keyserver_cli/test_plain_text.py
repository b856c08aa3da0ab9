"""No English-only text for people in the ``keyserver`` command's code (issue 12, ops12).

Officials read the command in Japanese. Before, some lines were plain strings or
f-strings, English under every locale: ``rotate-master-key --finish``'s question, the
titles of ``approvals show``, ``audit verify``'s failure, ``init``'s and ``witness``'s lines,
the help of the operator commands. This reads keyserver/_cli/*.py and fails on a string
literal with words handed to what shows it to a person (a confirmation, a note, a line, an
error and its hint, a table's title, a help text) instead of a catalogue message (N_):
test_help_catalogue.py then checks that each message has its Japanese.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

CLI = Path(__file__).resolve().parents[2] / "keyserver" / "_cli"
# Output's and Context's methods that show their first argument to a person.
_SHOWN = {"confirm", "note", "warn", "text", "say", "error", "record", "rows"}
# Keywords that hold a text for people, whatever the call.
_KEYWORDS = {"help", "hint", "title", "description", "epilog", "refusal"}
_WORD = re.compile(r"[A-Za-z]{2,}")


def _receiver(call: ast.Call) -> str:
    return ast.unparse(call.func.value) if isinstance(call.func, ast.Attribute) else ""


def _texts(call: ast.Call) -> list[ast.expr]:
    """The arguments of ``call`` that a person reads."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    said = [k.value for k in call.keywords if k.arg in _KEYWORDS]
    # ctx.out.text(...), self.out.note(...), ctx.confirm(...): not logger.error or sqlalchemy's
    # text(); a CliError's message.
    shown = name in _SHOWN and _receiver(call).endswith(("out", "ctx", "self"))
    if shown or name == "CliError":
        said += call.args[:1]
    return said


def _words(node: ast.expr) -> bool:
    """A literal (or f-string) with words in its own text: English for every reader."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(_WORD.search(node.value))
    if isinstance(node, ast.JoinedStr):
        return any(_words(part) for part in node.values if isinstance(part, ast.Constant))
    if isinstance(node, ast.BinOp):
        return _words(node.left) or _words(node.right)
    return False


@pytest.mark.parametrize("path", sorted(CLI.glob("*.py")), ids=lambda p: p.name)
def test_texts_for_people_come_from_the_catalogue(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    plain = [
        f"{path.name}:{node.lineno}: {ast.unparse(text)[:80]}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for text in _texts(node)
        if _words(text)
    ]
    assert plain == [], "\n".join(plain)
