"""The medium report's three-way answer and its order, worst first (spec §report; no I/O).

One list of the answers, worst first, for both of its uses: the medium's headline is the
worst of its containers' answers, and people reading a report (the console page, its print,
the ``keyserver report`` text) see the containers in that order, so the answer an official
must give the press comes first (issue 12). The signed and JSON documents keep the
containers in id order (spec §report): only what people read is reordered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

OPENED = "opened"
POSSIBLY_OPENED = "possibly opened"
NOT_OPENED = "not opened"
# Worst first: the headline is the first of these any container has.
SEVERITY = (OPENED, POSSIBLY_OPENED, NOT_OPENED)

_Row = TypeVar("_Row", bound=Mapping[str, Any])


def worst(answers: Iterable[str | None]) -> str | None:
    """The headline answer: the worst of the containers' (None if none has one)."""
    found = {a for a in answers if a is not None}
    return next((a for a in SEVERITY if a in found), None)


def answer_first(containers: Iterable[_Row]) -> list[_Row]:
    """A report's containers as people read them: opened, possibly opened, not opened.

    Within one answer (and without one: no loss reported) by label, then by id, so the
    order is the same on every page and every print. Unknown answers (a newer server's)
    come last rather than hidden.
    """
    rank = {a: i for i, a in enumerate(SEVERITY)}

    def key(c: _Row) -> tuple[int, str, str]:
        return (
            rank.get(str(c.get("answer")), len(SEVERITY)),
            str(c.get("label")),
            str(c.get("container_id")),
        )

    return sorted(containers, key=key)
