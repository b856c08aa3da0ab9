"""``keyserver report`` says "depends on the time of loss" as the console's report does
(spec §report ``told_at``; issue 12, eighteenth session).

A key released to the reader between the time of loss counted from and the time told:
the JSON's answer stays the conservative "possibly opened", with "not opened" from the
time told beside it; the text says that the answer depends on the time of loss, and what
it is either side, who and when, in the display zone, in English and Japanese.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from keyserver._cli.output import local_time
from keyserver._domain.i18n import translate
from tests.support import keyserver_cli as h

TOKYO = ZoneInfo("Asia/Tokyo")


def _line(language: str, msgid: str, **values: str) -> str:
    return translate(language, msgid, values)


def test_report_text_says_the_answer_depends_on_the_time_of_loss(
    cli: Any, data_dir: Any, people: Any
) -> None:
    settings = data_dir.settings()
    cid = h.make_container(settings, people.writer, medium="USB-D")
    lost = datetime.now(UTC) - timedelta(seconds=1)
    h.reader_evaluates(settings, people.reader, cid)
    told = datetime.now(UTC)  # after the release: it counts only from the time of loss
    dd = data_dir.path
    times = ("--lost-at", lost.isoformat(), "--told-at", told.isoformat())
    assert (
        cli("report-loss", "--medium", "USB-D", *times, "--reason", "x", "--data-dir", dd).code == 0
    )
    doc = cli("report", "--medium", "USB-D", "--json", "--data-dir", dd).json()
    assert (doc["answer"], doc["answer_from_told_at"]) == ("possibly opened", "not opened")
    released = next(a for a in doc["containers"][0]["attempts"] if a["kind"] == "release")
    for language in ("en", "ja"):
        env = h.clean_env(KEYSERVER_LANG=language, KEYSERVER_DISPLAY_TIMEZONE="Asia/Tokyo")
        text = cli("report", "--medium", "USB-D", "--data-dir", dd, env=env)
        assert text.code == 0, text
        lines = text.out.splitlines()
        depends = _line(
            language,
            "depends on the time of loss (the answer either side of the time told below)",
        )
        assert depends in lines[0], lines[0]
        at = local_time(released["at"], TOKYO)
        who = _line(language, "the city's reader %(name)s", name="reader")
        # The container named with its own answer (issue 12, nineteenth session).
        event = _line(
            language,
            "“%(label)s” %(answer)s: key given to %(who)s at %(at)s, opening not confirmed",
            label="export",
            answer=_line(language, "Possibly opened"),
            who=who,
            at=at,
        )
        # The answer at the time told first, then the other case, as on the console's
        # report (issue 12, nineteenth session).
        assert lines[1:3] == [
            _line(
                language,
                "If it was lost at the time told (around %(told)s), or at any time after"
                " %(at)s: %(answer)s.",
                told=local_time(doc["told_at"], TOKYO),
                at=at,
                answer=_line(language, "Not opened"),
            ),
            _line(
                language,
                "If it was lost before %(at)s: %(answer)s — %(events)s.",
                at=at,
                answer=_line(language, "Possibly opened"),
                events=event,
            ),
        ], text.out
        # The container's own record says it too; one container: no lines again.
        assert text.out.count(depends) == 2, text.out
    # Without a time told: the answer as before, no such line.
    other = h.make_container(settings, people.writer, medium="USB-E")
    h.reader_evaluates(settings, people.reader, other)
    assert (
        cli(
            "report-loss",
            "--medium",
            "USB-E",
            "--lost-at",
            lost.isoformat(),
            "--reason",
            "x",
            "--data-dir",
            dd,
        ).code
        == 0
    )
    plain = cli("report", "--medium", "USB-E", "--data-dir", dd)
    assert "possibly opened" in plain.out.splitlines()[0] and "If it was lost" not in plain.out
