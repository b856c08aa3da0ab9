"""``keyserver report`` says "Depends on the time of loss" as the console's report does
(spec §report ``told_at``; issue 12, eighteenth session; its words, twenty-first).

A key released to the reader between the time of loss counted from and the time told:
the JSON's answer stays the conservative "possibly opened", with "not opened" from the
time told beside it; the text says that the answer depends on the time of loss, and what
it is either side, each file and to whom by role, in the display zone, in English and Japanese.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from keyserver._cli.output import local_time
from keyserver._domain.i18n import translate, translations
from keyserver._domain.report_words import READER_MEANT
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
    told_at = datetime.fromisoformat(doc["told_at"])
    # As told: to the minute unless told with seconds (report_words.told_view).
    told_said = local_time(doc["told_at"], TOKYO)
    if told_at.second == 0:
        told_said = told_said[:16] + told_said[19:]
    for language in ("en", "ja"):
        env = h.clean_env(KEYSERVER_LANG=language, KEYSERVER_DISPLAY_TIMEZONE="Asia/Tokyo")
        text = cli("report", "--medium", "USB-D", "--data-dir", dd, env=env)
        assert text.code == 0, text
        lines = text.out.splitlines()
        # The console's report's words (issue 12, twenty-first session), its headline
        # first: the answer for the time told in a sentence (console46: the line said
        # "Depends on the time of loss" where the console leads with that answer).
        when = _line(language, "the time told (around %(at)s)", at=told_said)
        nobody = _line(language, "Nobody opened any data on this medium after %(when)s.", when=when)
        assert lines[0].startswith(
            _line(language, "Medium %(medium)s: %(answer)s", medium="USB-D", answer=nobody)
        ), lines[0]
        at = local_time(released["at"], TOKYO)
        # The container named with its own answer (issue 12, nineteenth session), its time
        # the case's own (said once).
        event = _line(
            language,
            "%(label)s: %(answer)s",
            label="export",
            answer=_line(language, "Possibly opened"),
        )
        # The answer at the time told first, then the other case with its answer and its
        # reader by role and name (twenty-third session, the lead's decision, as on the
        # console's report), and under it a line per container.
        from_told = _line(
            language,
            "For the time told, around %(told)s: %(answer)s",
            told=told_said,
            answer=_line(language, "Not opened"),
        )
        before = translations(language).ngettext(
            "%(case)s: %(answer)s, by the city's reader %(who)s",
            "%(case)s: %(answer)s, by the city's readers %(who)s",
            1,
        ) % {
            "case": _line(language, "If lost at or before %(at)s", at=at),
            "answer": _line(language, "Possibly opened"),
            "who": released["actor"],
        }
        assert lines[1:4] == [from_told, before, f"  {event}"], text.out
        # Who the city's reader is, said once (a city account, not the finder).
        assert lines.count(READER_MEANT.text(language)) == 1, text.out
        # One container: its section says the answer, not the lines again.
        assert text.out.count(from_told) == 1, text.out
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
    assert plain.out.splitlines()[0].startswith("Medium USB-E: After the time of loss ("), plain.out
    assert "If lost" not in plain.out
