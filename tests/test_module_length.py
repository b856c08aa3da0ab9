"""No module over ~500 lines without a reason in its docstring (issue 9, "Done when").

A long module is sometimes right (one transaction read in one place, one benchmark whose
verdicts compare its own rows), but the reader should be told why before scrolling: the
module's docstring carries a paragraph that starts ``Length`` (or says ``Why one
module``). Every Python file git tracks is read, tests and benchmarks included.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIMIT = 500
_REASON = re.compile(r"^(Length\b|Why one module\b)", re.MULTILINE)


def _tracked_python() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:  # an export without git: the files on disk
        return sorted(p for p in REPO.rglob("*.py") if ".venv" not in p.parts)
    return [REPO / line for line in out.stdout.splitlines()]


def _long_without_reason(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    if text.count("\n") <= LIMIT:
        return False
    return not _REASON.search(ast.get_docstring(ast.parse(text)) or "")


def test_the_rule_can_fail() -> None:
    assert _REASON.search("Intro.\n\nLength: one transaction.")
    assert _REASON.search("Intro.\n\nWhy one module of ~510 lines: ...")
    assert not _REASON.search("Intro mentions the length of a line.")


def test_a_long_module_says_why() -> None:
    long = [str(p.relative_to(REPO)) for p in _tracked_python() if _long_without_reason(p)]
    assert long == [], f"over {LIMIT} lines: split them, or say why in a docstring paragraph"
