"""What `rwc info` prints for a person: a container's header, in the reader's language.

The field names and units from pycontainer/cli/infotexts.py, the values aligned by their
width on a terminal (a Japanese character takes two columns). ``--json`` (read.py
``run_info``) keeps its keys and values unchanged.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from pycontainer.cli.common import b64
from pycontainer.cli.texts import say

if TYPE_CHECKING:
    from pycontainer.reader import HeaderInfo


def columns(text: str) -> int:
    """How many terminal columns ``text`` takes (wide and full-width characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def aligned(rows: list[tuple[str, str]], lang: str) -> list[str]:
    """``label: value`` lines, the values in one column (``info_label_<key>`` labels)."""
    labels = [say(f"info_label_{key}", lang) + ":" for key, _ in rows]
    width = max(columns(label) for label in labels) + 1
    return [
        label + " " * (width - columns(label)) + value
        for label, (_, value) in zip(labels, rows, strict=True)
    ]


def header_lines(path: str, h: HeaderInfo, lang: str) -> list[str]:
    """The header of the container at ``path`` as lines for a person, in ``lang``."""
    rows = [
        ("container", str(path)),
        ("version", say("info_version", lang, version=h.version, suite=h.suite)),
        ("chunk_size", say("info_bytes", lang, size=h.chunk_size)),
        ("header", say("info_header", lang, header=h.header_length, payload=h.payload_length)),
    ]
    for s in h.slots:
        rows += [
            ("key_server", s.url),
            ("container_id", b64(s.container_id)),
            ("argon2id", f"m={s.argon2.m} KiB, t={s.argon2.t}, p={s.argon2.p}"),
        ]
    if h.unknown_slots:
        rows.append(("other_slots", say("info_other_slots", lang, count=h.unknown_slots)))
    return [*aligned(rows, lang), say("info_not_authenticated", lang)]
