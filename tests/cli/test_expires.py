from datetime import UTC, datetime, timedelta

import pytest

from pycontainer.cli.exits import UsageError
from pycontainer.cli.expires import parse_expires

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


def test_date_means_end_of_that_day_utc() -> None:
    assert parse_expires("2027-03-31", NOW) == datetime(2027, 4, 1, tzinfo=UTC)


def test_datetime_with_offset() -> None:
    got = parse_expires("2027-01-01T09:00:00+09:00", NOW)
    assert got == datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
    assert got.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    ["0d", "-1d", "30x", "soon", "2026-11-25", "2020-01-01T00:00Z", "99999999d", "2300-01-01"],
)
def test_refused(text: str) -> None:
    with pytest.raises(UsageError):
        parse_expires(text, NOW)
