"""A medium whose containers were opened (confirmed) at given times, for the loss review's
tests (tests/console/test_loss_review.py, test_browser_close_opening.py): the review checks
the time of loss typed against the last confirmed opening before it (issue 12); and the
medium report's container boxes read back (test_report_close.py,
test_close_release_times.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime

from keyserver._domain.settings import Settings
from tests.support.clock import FakeClock
from tests.support.loss_form import MEDIUM
from tests.support.world import World, activate, confirm, make_world, oprf

# 3 Dec in Tokyo: openings at 17:05 and 17:40:15 (two containers), one at 19:00 (after
# the time the tests usually type, 18:30); the review is made on 4 Dec at 10:00.
OPENINGS = {
    "early": datetime(2026, 12, 3, 8, 5, tzinfo=UTC),
    "late": datetime(2026, 12, 3, 8, 40, 15, tzinfo=UTC),
    "after": datetime(2026, 12, 3, 10, 0, tzinfo=UTC),
}


@contextmanager
def opened(
    settings: Settings,
    url: str,
    openings: dict[str, datetime],
    released: dict[str, datetime] | None = None,
    people: int | None = None,
    names: Mapping[str, str] | None = None,
) -> Iterator[World]:
    """The principals of a world, a container per label on MEDIUM, each opened (confirmed)
    by the reader at its time, and one per label of ``released`` whose key the reader was
    given at its time without confirming it (a wrong password, or a thief who does not
    send the receipt); the clock then at the review's time, 4 Dec 10:00 in Tokyo.
    ``people``: each container's declared count of people (spec §endpoints), if any;
    ``names``: principals named otherwise than their roles (make_world)."""
    unconfirmed = released or {}
    clock = settings.clock
    assert isinstance(clock, FakeClock)
    # Every entry in time order: the report's window starts at the first entry (by
    # sequence) at or after the time of loss (spec §report).
    clock.t = datetime(2026, 12, 1, tzinfo=UTC)
    world = make_world(settings, url, names)
    try:
        every = {**openings, **unconfirmed}
        made = {
            label: activate(world, medium=MEDIUM, label=label, people=people) for label in every
        }
        for label, at in sorted(every.items(), key=lambda item: item[1]):
            clock.t = at
            reg, key = made[label]
            cid = reg["container_id"]
            given = oprf(world, "reader", cid, reg["public_key"])
            if label in openings:
                confirm(world, "reader", cid, key, given)
        clock.t = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
        yield world
    finally:
        world.close()


def box_rows(page: str) -> dict[str, list[tuple[str, str]]]:
    """Each container's box (its first facts list) on the medium report: its rows (name,
    value, tags dropped and white space folded), by the container's label."""

    def plain(cell: str) -> str:
        return " ".join(re.sub(r"<[^>]+>", "", cell).split())

    boxes: dict[str, list[tuple[str, str]]] = {}
    for section in page.split('<section class="report-container')[1:]:
        label = re.search(r"<h2>([^<]+?) <", section)
        assert label is not None
        facts = section.split('<dl class="facts">', 1)[1].split("</dl>", 1)[0]
        rows = re.findall(r"<dt>(.*?)</dt>\s*<dd[^>]*>(.*?)</dd>", facts, re.S)
        boxes[label.group(1)] = [(plain(name), plain(value)) for name, value in rows]
    return boxes
