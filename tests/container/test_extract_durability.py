"""Extraction is durable before it is published (pycontainer/_engine/extract.py, "Durability").

The real fsync runs; it is only watched (which inode, when), next to the renames that publish
the result, so the test can check the order: every extracted file and directory reached the
disk before the first name appeared in the destination, and the destination was synced after.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from pycontainer._engine import staging
from tests.support.container import Kit


def _tree(root: Path) -> dict[str, bytes]:
    files = {
        "a.csv": os.urandom(3 * Kit.C + 5),  # several chunks
        "sub/b.txt": b"b",
        "sub/deeper/c.bin": os.urandom(Kit.C),
        "empty": b"",
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


# O_TMPFILE files (Linux) and the named fallback (everywhere, forced here).
MODES = {"o_tmpfile": True, "named": False} if sys.platform == "linux" else {"named": False}


@pytest.mark.parametrize("anonymous", list(MODES.values()), ids=list(MODES))
@pytest.mark.parametrize("workers", [1, 2])
def test_every_file_and_directory_synced_before_publish(
    kit: Kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int, anonymous: bool
) -> None:
    assert staging.tmpfile_supported(tmp_path) or not anonymous  # the case is what it says
    files = _tree(tmp_path / "src")
    out = tmp_path / "c.rwc"
    kit.seal([tmp_path / "src"], out)
    if not anonymous:
        monkeypatch.setattr(staging, "tmpfile_supported", lambda _d: False)
    dest = tmp_path / "x"
    events: list[tuple[str, Any]] = []
    real_fsync, real_rename, real_replace = os.fsync, os.rename, os.replace

    def fsync(fd: int) -> None:
        st = os.fstat(fd)
        events.append(("fsync", (st.st_dev, st.st_ino)))
        real_fsync(fd)

    def rename(src: Any, dst: Any, *a: Any, **k: Any) -> None:
        events.append(("publish", Path(dst)))
        real_rename(src, dst, *a, **k)

    def replace(src: Any, dst: Any, *a: Any, **k: Any) -> None:
        events.append(("publish", Path(dst)))
        real_replace(src, dst, *a, **k)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(os, "replace", replace)
    with kit.open(out, workers=workers) as c:
        c.extract(dest)
    monkeypatch.undo()

    first_publish = next(
        i for i, (kind, p) in enumerate(events) if kind == "publish" and p.parent == dest
    )
    synced_before = {v for kind, v in events[:first_publish] if kind == "fsync"}
    synced_after = {v for kind, v in events[first_publish:] if kind == "fsync"}
    extracted = dest / "src"
    for name, data in files.items():
        path = extracted / name
        assert path.read_bytes() == data
        st = path.stat()
        assert (st.st_dev, st.st_ino) in synced_before, f"{name} not synced before publish"
    for d in (extracted, extracted / "sub", extracted / "sub" / "deeper"):
        st = d.stat()
        assert (st.st_dev, st.st_ino) in synced_before, f"{d} not synced before publish"
    st = dest.stat()
    assert (st.st_dev, st.st_ino) in synced_after, "the destination was not synced"
    st = tmp_path.stat()  # dest was created: its parent holds the new name
    assert (st.st_dev, st.st_ino) in synced_after, "the new destination's parent not synced"
    assert kit.leftovers(tmp_path) == []
