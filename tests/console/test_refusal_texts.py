"""Every refusal the key server constructs is in the catalogue, in both languages.

The console shows a refusal's detail in the page's language (its catalogue message,
keyserver/_domain/errors.py ``KeyServerError.message``), the `keyserver` command in
KEYSERVER_LANG, and the API answers a client that asks with Accept-Language (`rwc`, the
witness, spec §problems); the problem document keeps the English text otherwise. A
refusal written as a plain string would put English in front of a Japanese reader: every
module of keyserver/ is read here, and every refusal it constructs must take its detail
from ``N_(...)``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from keyserver._domain.errors import _CLASSES, ConflictError, InvalidRequestError, NotFoundError
from keyserver._domain.i18n import N_, translate
from keyserver._domain.validation import check_text

ROOT = Path(__file__).resolve().parents[2] / "keyserver"
# Every module of the key server is read, subpackages and a module added later too: a
# refusal written where "the console never shows it" still reaches an official through
# the `keyserver` command (restore-backup, rotate-master-key: said in KEYSERVER_LANG) or a
# client through the API (the transparency routes: Accept-Language, spec §problems). An
# earlier list of such exceptions, and a glob that skipped subfolders
# (domain/transparency, store/migrations, cli), let English-only refusals stay in
# service/restore.py, rotation.py, transparency.py and store/tlog.py.
MODULES = sorted(ROOT.rglob("*.py"))
# The `keyserver` command's own refusals (keyserver/_cli/errors.py), said in KEYSERVER_LANG
# with their hint: the operator's and the witness's commands (init, serve, backup,
# rotate-master-key, witness, verify-report) as much as the officials'.
_REFUSALS = {cls.__name__ for cls in _CLASSES} | {"CliError"}


def _is_plain(node: ast.expr, texts: set[str]) -> bool:
    """``node`` gives a plain string: a literal, an f-string, a concatenation, a choice of
    such, or the name of a module-level text (``NO_LOG = "..."``)."""
    if isinstance(node, ast.IfExp):
        return _is_plain(node.body, texts) or _is_plain(node.orelse, texts)
    if isinstance(node, ast.Name):
        return node.id in texts
    return isinstance(node, ast.Constant | ast.JoinedStr | ast.BinOp)


def _plain_refusals_in(source: str) -> list[str]:
    """Refusals in ``source`` whose detail is a plain string, not a catalogue message."""
    tree = ast.parse(source)
    texts = {
        target.id
        for stmt in tree.body
        if isinstance(stmt, ast.Assign) and _is_plain(stmt.value, set())
        for target in stmt.targets
        if isinstance(target, ast.Name)
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        details = node.args[:1] + [k.value for k in node.keywords if k.arg in {"detail", "hint"}]
        if name in _REFUSALS and any(_is_plain(d, texts) for d in details):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_the_reader_finds_each_way_of_writing_a_plain_refusal() -> None:
    """The rule can fail: each shape a plain English refusal has taken is found."""
    source = (
        'NO_LOG = ("no log: " "create one")\n'
        'a = NotFoundError("literal")\n'
        'b = ConflictError(f"gen {n}")\n'
        'c = NotFoundError("x" if y else "z")\n'
        "d = NotFoundError(NO_LOG)\n"
        'e = errors.InternalError(detail="kw")\n'
        'f = CliError(N_("no logs to witness"), hint="add one")\n'
        'ok = NotFoundError(N_("no medium %(m)s", m=m))\n'
        'ok = CliError(N_("no %(x)s", x=x), hint=N_("do y"), exit_code=2)\n'
    )
    assert [line.split(": ", 1)[0] for line in _plain_refusals_in(source)] == [
        "2", "3", "4", "5", "6", "7"
    ]  # fmt: skip


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_refusals_come_from_the_catalogue(path: Path) -> None:
    assert _plain_refusals_in(path.read_text(encoding="utf-8")) == []


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
