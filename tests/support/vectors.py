"""The vector file parser of the vector tests (spec/vectors/README.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VECTOR_DIR = ROOT / "spec" / "vectors"
NOT_VECTORS = {"README.md", "generate.py", "builder.py"}


@dataclass(frozen=True)
class VectorFile:
    """A parsed vector: its `key: value` lines (in order, keys may repeat) and its body."""

    name: str
    lines: tuple[tuple[str, str], ...]
    body: bytes

    def all(self, key: str) -> list[str]:
        return [v for k, v in self.lines if k == key]

    def one(self, key: str) -> str:
        values = self.all(key)
        assert len(values) == 1, f"{self.name}: expected one {key!r} line, got {values}"
        return values[0]


def parse_vector(path: Path) -> VectorFile:
    """Parse one vector file strictly: header lines, one empty line, then the container."""
    data = path.read_bytes()
    head, sep, body = data.partition(b"\n\n")
    assert sep, f"{path.name}: no blank line after the header"
    lines = []
    for line in head.decode("utf-8").split("\n"):
        key, colon, value = line.partition(": ")
        assert colon and key and key == key.strip(), f"{path.name}: bad line {line!r}"
        lines.append((key, value))
    return VectorFile(path.name, tuple(lines), body)


def vector_paths(directory: Path = VECTOR_DIR) -> list[Path]:
    """Every vector file of a directory, sorted by name."""
    return sorted(p for p in directory.iterdir() if p.is_file() and p.name not in NOT_VECTORS)
