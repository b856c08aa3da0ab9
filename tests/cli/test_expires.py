from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pycontainer.cli.exits import UsageError
from pycontainer.cli.expires import parse_expires
from tests.support.clock import local_zone

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_durations(text: str, delta: timedelta) -> None:
    assert parse_expires(text, NOW) == NOW + delta


@pytest.mark.parametrize(
    ("zone", "end"),
    [
        # The end of 2027-03-31 where the writer is: midnight starting April 1st there.
        ("Asia/Tokyo", datetime(2027, 3, 31, 15, 0, tzinfo=UTC)),
        ("UTC", datetime(2027, 4, 1, tzinfo=UTC)),
        # New York is on daylight-saving time (-04:00) by then: that date's offset counts.
        ("America/New_York", datetime(2027, 4, 1, 4, 0, tzinfo=UTC)),
    ],
)
def test_date_means_end_of_that_day_in_the_writers_zone(zone: str, end: datetime) -> None:
    assert parse_expires("2027-03-31", NOW, ZoneInfo(zone)) == end
    # One rule for both: the same instant as that midnight written without an offset.
    assert parse_expires("2027-04-01T00:00:00", NOW, ZoneInfo(zone)) == end


def test_date_and_datetime_without_offset_use_the_machines_zone() -> None:
    with local_zone("Asia/Tokyo"):
        assert parse_expires("2027-03-31", NOW) == datetime(2027, 3, 31, 15, 0, tzinfo=UTC)
        assert parse_expires("2027-03-31T18:00", NOW) == datetime(2027, 3, 31, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "0d",
        "-1d",
        "30x",
        "soon",
        "2026-11-25",
        "2020-01-01T00:00Z",
        "99999999d",
        "2300-01-01",
        "9999-12-31",  # the day after it is past the calendar's end: refused, not a crash
    ],
)
def test_refused(text: str) -> None:
    with pytest.raises(UsageError):
        parse_expires(text, NOW)
