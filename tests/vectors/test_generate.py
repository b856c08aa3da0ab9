"""The committed vectors are exactly what spec/vectors/generate.py produces, and they cover
every reject rule of spec/format.md with the error class the spec gives that rule.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VECTOR_DIR = ROOT / "spec" / "vectors"
FORMAT_MD = ROOT / "spec" / "format.md"
RULE_ID = re.compile(r"\[F-[A-Z0-9-]+\]")
# A row of the rule index: | `[F-X]` | [Section](#anchor) | error class |
RULE_ROW = re.compile(r"^\| `(\[F-[A-Z0-9-]+\])` \| [^|]+ \| ([a-z ]+) \|$", re.MULTILINE)
SIZE_BUDGET = 2 * 1024 * 1024


def test_regenerated_vectors_are_identical(tmp_path: Path, vector_tools: Any) -> None:
    _, vector_paths = vector_tools
    out = tmp_path / "vectors"
    subprocess.run(
        [sys.executable, str(VECTOR_DIR / "generate.py"), "--out", str(out)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    fresh = {p.name: p.read_bytes() for p in vector_paths(out)}
    committed = {p.name: p.read_bytes() for p in vector_paths(VECTOR_DIR)}
    assert sorted(fresh) == sorted(committed), "run `make vectors` and commit the result"
    changed = [name for name in fresh if fresh[name] != committed[name]]
    assert not changed, f"vectors differ from the generator's output: {changed}"
    # The protocol.md vectors (receipt MAC, audit chain) too.
    for name in ("receipt_mac.json", "audit_chain.json", "row_mac.json"):
        got = (out / "protocol" / name).read_bytes()
        assert got == (VECTOR_DIR / "protocol" / name).read_bytes(), name


def _rule_index() -> dict[str, str]:
    text = FORMAT_MD.read_text(encoding="utf-8")
    rows = dict(RULE_ROW.findall(text))
    assert len(rows) >= 30, "the rule index table of format.md did not parse"
    return rows


def test_rule_index_lists_every_rule_of_the_text() -> None:
    text = FORMAT_MD.read_text(encoding="utf-8")
    in_text = set(RULE_ID.findall(text))
    assert in_text == set(_rule_index())


def test_every_rule_has_a_vector_with_its_error_class(all_vectors: list[Any]) -> None:
    rules = _rule_index()
    covered: dict[str, int] = {}
    for v in all_vectors:
        for rule in v.all("spec"):
            assert rule in rules, f"{v.name} cites {rule}, which format.md does not define"
            assert v.one("expect") == rules[rule], (
                f"{v.name} expects {v.one('expect')!r}, format.md says {rules[rule]!r} for {rule}"
            )
            covered[rule] = covered.get(rule, 0) + 1
    missing = sorted(set(rules) - set(covered) - _without_vector())
    assert not missing, f"rules without a vector: {missing}"
    # The rules format.md says no vector can show must really have none listed as covered
    # by accident of a typo, and must be defined.
    assert _without_vector() <= set(rules)


def _without_vector() -> set[str]:
    """The rules format.md lists under "Rules no vector can show" (reader- or platform-bound)."""
    text = FORMAT_MD.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("Rules no vector can show:"))
    return set(RULE_ID.findall(line))


def test_two_fault_vectors_name_a_rule_of_another_class(all_vectors: list[Any]) -> None:
    """A second fault ("also:") is one that the order of checks (§reading) decides against."""
    rules = _rule_index()
    two_fault = [v for v in all_vectors if v.all("also")]
    assert len(two_fault) >= 15
    for v in two_fault:
        for rule in v.all("also"):
            assert rule in rules, f"{v.name}: {rule} is not in format.md"
            assert rule not in v.all("spec"), v.name


def test_negative_vectors_name_a_rule(all_vectors: list[Any]) -> None:
    for v in all_vectors:
        if v.one("expect") != "success":
            assert v.all("spec"), f"{v.name} names no rule"
            assert v.one("comment")


def test_failures_are_the_majority(all_vectors: list[Any]) -> None:
    failures = sum(v.one("expect") != "success" for v in all_vectors)
    assert failures > 2 * (len(all_vectors) - failures), failures


def test_vectors_stay_small(vector_tools: Any) -> None:
    _, vector_paths = vector_tools
    total = sum(p.stat().st_size for p in vector_paths(VECTOR_DIR))
    assert total < SIZE_BUDGET, total
