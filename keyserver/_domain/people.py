"""How many people's personal data a medium's containers hold, as their writers declared.

spec §report "How many people" (issue 12): after a loss the press's first question is
"what data, and how many residents?". Each container carries its writer's declaration
(spec §endpoints ``people``), never checked and never decided on; the medium's figure is
an upper bound. One policy for every reader of it: the console's medium, container and
report pages, the printed report and the ``keyserver report`` text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from keyserver._domain.i18n import Message, ngettext


def people_of(containers: Sequence[Mapping[str, Any]]) -> dict[str, int | None]:
    """``{people_up_to, people_undeclared}`` of a medium's containers (spec §report).

    The same person may be in several containers of one medium (a register and an export
    of it), so the sum of the declared counts is an upper bound, never a count: what
    people read says "up to". A container that declared nothing adds nothing and is
    counted apart, never as 0 people; without any declaration the bound is None.
    """
    declared = [c["people"] for c in containers if c.get("people") is not None]
    return {
        "people_up_to": sum(declared) if declared else None,
        "people_undeclared": len(containers) - len(declared),
    }


def said(people: int) -> Message:
    """One container's declared count, as people read it (after "Personal data")."""
    return ngettext(
        "%(n)s person (declared by the writer)",
        "%(n)s people (declared by the writer)",
        people,
        n=f"{people:,}",  # grouped as both languages group it (460,517)
    )


def up_to_said(doc: Mapping[str, Any]) -> list[Message]:
    """The medium's bound and, if any, how many containers declared nothing; [] if none did."""
    up_to, undeclared = doc.get("people_up_to"), doc.get("people_undeclared") or 0
    if up_to is None:
        return []  # nothing declared: say nothing rather than "0 people"
    out = [
        # "Up to": the sum counts twice a person in two containers (see people_of); the
        # reason is in the spec, not on paper (page 1 of the printed report has no room).
        ngettext(
            "up to %(n)s person (declared)",
            "up to %(n)s people (declared)",
            up_to,
            n=f"{up_to:,}",
        )
    ]
    if undeclared:
        out.append(
            ngettext(
                "%(n)s container declared no number",
                "%(n)s containers declared no number",
                undeclared,
                n=f"{undeclared:,}",
            )
        )
    return out
