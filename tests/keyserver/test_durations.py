"""One duration grammar (keyserver._domain.durations) for flags, KEYSERVER_* and TOML.

`rwc seal --expires` durations follow the same grammar; one table holds both parsers to it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keyserver._domain.durations import DurationError, format_duration, parse_duration
from keyserver._domain.settings import ConfigError, Settings
from pycontainer.cli.exits import UsageError
from pycontainer.cli.expires import parse_expires

ACCEPTED = [
    ("90s", timedelta(seconds=90)),
    ("30m", timedelta(minutes=30)),
    ("72h", timedelta(hours=72)),
    ("7d", timedelta(days=7)),
    ("2w", timedelta(weeks=2)),
    (" 72H ", timedelta(hours=72)),
]
# Bare numbers are ambiguous; fractions and compound forms have a one-unit spelling.
AMBIGUOUS = ["72", "3600", "1.5", "-5"]
REFUSED = ["", "h", "72x", "1.5h", "1h30m", "-5h", "72 h", "seventy", "1e3s", "9999999999d"]
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_accepted(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    # rwc seal --expires: the same grammar for its durations.
    assert parse_expires(text, NOW) == NOW + expected


@pytest.mark.parametrize("text", AMBIGUOUS)
def test_bare_number_refused_as_ambiguous(text: str) -> None:
    with pytest.raises(DurationError, match="no unit and is ambiguous"):
        parse_duration(text, name="loss_waiting_period")
    with pytest.raises(UsageError, match="no unit and is ambiguous"):
        parse_expires(text, NOW)


@pytest.mark.parametrize("text", REFUSED)
def test_refused(text: str) -> None:
    with pytest.raises(DurationError, match=r"duration|century"):
        parse_duration(text)
    with pytest.raises(UsageError):
        parse_expires(text, NOW)


def test_zero_is_zero_in_every_unit() -> None:
    assert parse_duration("0") == timedelta(0) == parse_duration(0)


@pytest.mark.parametrize("value", [72, 3600, 1.5, True, [1]])
def test_toml_numbers_and_other_types_refused(value: object) -> None:
    with pytest.raises(DurationError):
        parse_duration(value)


@pytest.mark.parametrize(("text", "expected"), ACCEPTED[:5])
def test_format_round_trips(text: str, expected: timedelta) -> None:
    assert parse_duration(format_duration(expected)) == expected


def test_settings_take_the_grammar_from_toml_and_env(tmp_path: Path) -> None:
    (tmp_path / "keyserver.toml").write_text('loss_waiting_period = "72h"\npending_ttl = "1d"\n')
    s = Settings.load(data_dir=tmp_path, env={"KEYSERVER_CHALLENGE_TTL": "5m"})
    assert s.loss_waiting_period == timedelta(hours=72)
    assert s.pending_ttl == timedelta(days=1)
    assert s.challenge_ttl == timedelta(minutes=5)


@pytest.mark.parametrize("source", ["toml", "env"])
def test_settings_refuse_a_bare_number(tmp_path: Path, source: str) -> None:
    env: dict[str, str] = {}
    if source == "toml":
        (tmp_path / "keyserver.toml").write_text("loss_waiting_period = 72\n")
    else:
        env["KEYSERVER_LOSS_WAITING_PERIOD"] = "72"
    with pytest.raises(ConfigError, match="loss_waiting_period: '72' has no unit"):
        Settings.load(data_dir=tmp_path, env=env)
