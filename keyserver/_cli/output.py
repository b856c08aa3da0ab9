"""Output of the ``keyserver`` command: tables for people, JSON for scripts.

Every command produces one JSON-compatible value (a dict or a list of dicts). With
``--json`` it is printed as one JSON document (or JSON Lines for the audit export) on
stdout; otherwise it is rendered with rich. Errors and hints always go to stderr, in the
form ``keyserver: error: ...`` / ``keyserver: hint: ...``, so that stdout stays parseable.

Texts for people may be :class:`~keyserver._domain.i18n.Message` s: they are printed in the
command's language (``Output.lang``, spec §cli), except in ``--json`` documents, which keep
English so that what a script reads does not depend on the locale it runs in.
"""

from __future__ import annotations

import errno
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from keyserver._cli.errors import KIND
from keyserver._cli.labels import COUNTS, FIELDS, VALUES, Words
from keyserver._domain.i18n import N_, Message
from keyserver._domain.i18n import text as localised
from keyserver._domain.settings import ConfigError, display_zone
from keyserver._domain.state_words import STATE_NAMES, state_count
from pycontainer.client.problems import clean_text

PROG = "keyserver"
_CELL_LIMIT = 2000  # a reason or a label longer than this is cut in tables (not in --json)

# Members holding an RFC 3339 time besides ``at`` and ``*_at`` (spec §endpoints).
_TIME_KEYS = frozenset({"at", "destroy_after", "not_after", "attempts_since", "window_start"})


def is_time_key(key: str) -> bool:
    """Whether a protocol member named ``key`` holds an RFC 3339 time."""
    return key in _TIME_KEYS or key.endswith("_at")


def local_time(value: str, zone: tzinfo, *, seconds: bool = True) -> str:
    """An RFC 3339 time as people read it: in ``zone``, to the second, with the offset.

    ``2026-11-26T09:00:00.000000Z`` in Asia/Tokyo is ``2026-11-26 18:00:00 +09:00``: the
    offset is always shown, so a time read aloud to the press is never ambiguous. A value
    that is not a time is returned unchanged. ``seconds=False``: to the minute, for a time
    someone told to the minute (a time told, ``around 17:41``: issue 12).
    """
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is None:
        return value
    shown = parsed.astimezone(zone)
    offset = shown.strftime("%z")
    clock = f"{shown:%H:%M:%S}" if seconds else f"{shown:%H:%M}"
    return f"{shown:%Y-%m-%d} {clock} {offset[:3]}:{offset[3:]}"


def _safe(text: str) -> str:
    """Text from the server or the database, safe for a terminal.

    The same sanitiser as rwc's (pycontainer.client.problems.clean_text): control
    characters, ESC included, become spaces, so no stored reason or hostile server can
    send escape sequences to an official's terminal.
    """
    return clean_text(text, _CELL_LIMIT) or ""


def _cell(value: Any) -> Text:
    """Render one value for a table cell (plain text: never rich markup)."""
    if value is None:
        return Text("-")
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    if isinstance(value, list | tuple):
        return Text(", ".join(_cell(v).plain for v in value) or "-")
    if isinstance(value, dict):
        return Text(json.dumps(value, sort_keys=True, ensure_ascii=True))
    return Text(_safe(str(value)))


class _Console(Console):
    """Rich's console, leaving a closed pipe to the command's one error boundary."""

    def on_broken_pipe(self) -> None:
        """The reader of stdout went away (``keyserver audit list | head``).

        Rich's own handling exits with status 1; the command ends quietly with status 0
        when its reader has what it wanted, as other Unix tools do (issue 9), in one place:
        keyserver._cli.main, which this BrokenPipeError reaches.
        """
        self.quiet = True  # nothing more is written to the closed pipe
        raise BrokenPipeError(errno.EPIPE, "the reader of stdout went away")


class Output:
    """Where and how a command prints its result.

    Args:
        stdout: Stream for results.
        stderr: Stream for errors, hints and notes.
        as_json: Print machine-readable JSON instead of tables.
    """

    def __init__(
        self,
        stdout: TextIO,
        stderr: TextIO,
        *,
        as_json: bool,
        zone: tzinfo | None = None,
        lang: str = "en",
    ) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.as_json = as_json
        # Times for people are shown in this zone (spec §cli: display_timezone); JSON
        # keeps the protocol's UTC. None: not configured here; then the zone the key
        # server states (remote mode), else this machine's.
        self.zone = zone
        self.server_zone: tzinfo | None = None
        self.lang = lang  # of the texts for people (keyserver._domain.i18n)
        # The run's warnings, in English, for the ``--json`` error document (as `rwc`'s).
        self.warnings: list[str] = []
        # Rich decides on colour from the stream; width is fixed when not a TTY so that
        # captured output (tests, pipes) does not wrap at 80 columns unpredictably.
        self._console = _Console(
            file=stdout,
            highlight=False,
            soft_wrap=False,
            width=None if stdout.isatty() else 200,
        )

    def json(self, value: Any) -> None:
        """Print ``value`` as one JSON document."""
        self.stdout.write(json.dumps(value, sort_keys=True, ensure_ascii=False, indent=2))
        self.stdout.write("\n")

    def say(self, message: str | Message) -> str:
        """``message`` in the command's language (plain strings are shown as they are)."""
        return localised(message, self.lang)

    def record(
        self,
        value: Mapping[str, Any],
        *,
        title: str | Message | None = None,
        words: Words = VALUES,
        labels: Mapping[str, Message] | None = None,
    ) -> None:
        """Print one object: JSON, or a two-column key/value table.

        ``words``: the values said in words (cli/labels.py; an approval request's states
        are not a container's). ``labels``: a member named otherwise in this record than
        in cli/labels.py (a loss report's ``lost_at`` beside a time told).
        """
        if self.as_json:
            self.json(value)
            return
        shown = None if title is None else _safe(self.say(title))
        table = Table(title=shown, show_header=False, box=None, pad_edge=False)
        table.add_column("field", style="bold")
        table.add_column("value")
        for key, item in value.items():
            said = (labels or {}).get(str(key))
            name = self.label(str(key)) if said is None else self.say(said)
            table.add_row(Text(_safe(name)), self.cell(key, item, words))
        self._console.print(table)

    def rows(
        self,
        items: Sequence[Mapping[str, Any]],
        columns: Sequence[str],
        *,
        title: str | Message | None = None,
        words: Words = VALUES,
    ) -> None:
        """Print a list of objects: JSON array, or a table with the given columns."""
        if self.as_json:
            self.json(list(items))
            return
        name = self.say(title if title is not None else N_("entries"))
        if not items:
            self._console.print(Text(self.say(N_("(no %(what)s)", what=_safe(name)))))
            return
        table = Table(title=_safe(name))
        for column in columns:
            table.add_column(_safe(self.label(column)))
        for item in items:
            table.add_row(*(self.cell(column, item.get(column), words) for column in columns))
        self._console.print(table)

    def label(self, key: str) -> str:
        """A protocol member's name for people, in the command's language (cli/labels.py)."""
        found = FIELDS.get(key)
        return key if found is None else self.say(found)

    def stated_zone(self, name: str) -> None:
        """The key server's ``display_timezone`` (spec §cli), as its answers state it.

        A zone configured for this command (flag, ``KEYSERVER_DISPLAY_TIMEZONE``, TOML)
        wins. One this machine does not know is not used: times stay in this machine's
        zone, with their offset, and a note says so once.
        """
        if self.zone is not None or self.server_zone is not None:
            return
        try:
            self.server_zone = display_zone(name) if name else None
        except ConfigError:
            self.zone = display_zone("")  # said once: later answers change nothing
            self.note(
                N_(
                    "the key server shows times in %(zone)s, a zone this computer does not "
                    "know; times are shown in this computer's zone, with their offset",
                    zone=clean_text(name, 64) or "?",
                )
            )

    def cell(self, key: str, value: Any, words: Words = VALUES) -> Text:
        """Render the member ``key`` for people (times in the display zone)."""
        if isinstance(value, str) and is_time_key(key):
            return Text(self.time(value))
        word = words.get(key, {}).get(value) if isinstance(value, str) else None
        if word is not None:
            return Text(_safe(self.say(word)))
        if key in COUNTS and isinstance(value, Mapping):
            return Text(_safe(self._counts(value)))
        if isinstance(value, bool):  # in the command's language (issue 12, ops10)
            return Text(self.say(N_("yes") if value else N_("no")))
        return _cell(value)

    def time(self, value: str, *, seconds: bool = True) -> str:
        """An RFC 3339 time in the display zone, with its offset (local_time)."""
        zone = self.zone or self.server_zone or display_zone("")
        return _safe(local_time(value, zone, seconds=seconds))

    def safe_lines(self, text: str) -> str:
        """Lines of the command's own layout, each made safe for a terminal (``_safe``).

        The line breaks and each line's indent are the command's; what a line holds may
        come from the server. A caller puts server text in through :meth:`cell`, so that a
        line break inside it is a space, not a line of its own.
        """
        kept = []
        for line in text.split("\n"):
            indent = line[: len(line) - len(line.lstrip(" "))]
            kept.append(indent + _safe(line))
        return "\n".join(kept)

    def _counts(self, counts: Mapping[str, Any]) -> str:
        """``{"suspended": 1, "active": 3}`` as ``3 active, 1 suspended`` (issue 12, cli48)."""
        order = list(STATE_NAMES)
        ranked = sorted(counts, key=lambda k: (order.index(k) if k in order else len(order), k))
        return ", ".join(state_count(k, int(counts[k]), self.lang) for k in ranked) or "-"

    def secret(self, label: str, value: str) -> None:
        """Print a secret shown once (a new token), with a warning for people.

        The warning goes to stderr so that ``$(keyserver principal add ...)`` and ``--json``
        capture only the value.
        """
        if not self.as_json:
            self.stdout.write(f"{label}: {_safe(value)}\n")
            self.note(N_("this token is shown once; store it now (it is kept only as a hash)"))

    def text(self, line: str | Message, *, indent: int = 0) -> None:
        """Print a plain line on stdout (people mode only), ``indent`` spaces in.

        The indent is the command's layout, added after the sanitiser (which strips the
        line's own leading blanks: what a line holds may come from the server).
        """
        if not self.as_json:
            self.stdout.write(" " * indent + _safe(self.say(line)) + "\n")

    def note(self, message: str | Message, **fields: Any) -> None:
        """Print an informational line on stderr.

        With ``--json`` it is one JSON line, ``{"note": "..."}`` in English with ``fields``
        beside it (what a script reads: ``serve``'s address), so that every line the
        command writes is a JSON object (spec §cli).
        """
        if self.as_json:
            self.stderr.write(json.dumps({"note": str(message), **fields}, ensure_ascii=False))
            self.stderr.write("\n")
            self.stderr.flush()  # before uvicorn's own lines, in the order it happened
            return
        self.stderr.write(f"{PROG}: {_safe(self.say(message))}\n")

    def warn(self, message: str | Message) -> None:
        """A warning on stderr: the command goes on.

        People read ``keyserver: warning: ...`` in the command's language. With ``--json`` it
        is one JSON line, ``{"warnings": ["..."]}`` in English, the member `rwc`'s documents
        and the error document carry: a command that runs on (``serve``) has no document
        of its own to put it in, and a script reading stderr line by line, between
        uvicorn's log lines, finds it as it finds the error. It is kept for the error
        document too.
        """
        self.warnings.append(str(message))
        if self.as_json:
            self.stderr.write(json.dumps({"warnings": [str(message)]}, ensure_ascii=False))
            self.stderr.write("\n")
        else:
            line = N_("warning: %(text)s", text=self.say(message))
            self.stderr.write(f"{PROG}: {_safe(self.say(line))}\n")
        self.stderr.flush()  # before uvicorn's own lines, in the order it happened

    def error(
        self, message: str | Message, hint: str | Message | None = None, *, exit_code: int = 1
    ) -> None:
        """Report an error on stderr, as text or (``--json``) as one JSON document.

        Text: ``keyserver: error: ...`` / ``keyserver: hint: ...``. JSON: the same shape as
        `rwc`'s (``ok`` false, ``error`` with ``exit_code``, ``kind``, ``message``, ``hint``;
        ``warnings``: the run's warnings so far, ``[]`` if none).
        """
        if self.as_json:
            error = {
                "exit_code": exit_code,
                "kind": KIND.get(exit_code, "failure"),
                "message": str(message),
                "hint": None if hint is None else str(hint),
            }
            doc = {"ok": False, "error": error, "warnings": self.warnings}
            self.stderr.write(json.dumps(doc, ensure_ascii=False))
            self.stderr.write("\n")
            return
        self.stderr.write(f"{PROG}: error: {_safe(self.say(message))}\n")
        if hint:
            self.stderr.write(f"{PROG}: hint: {_safe(self.say(hint))}\n")


class JsonLogFormatter(logging.Formatter):
    """A log record as one JSON line: ``{"level", "logger", "message"[, "exception"]}``.

    ``serve --json``'s log (uvicorn's lines, the key server's warnings, the workers' and
    the release committer's): every line on stdout and stderr is then a JSON object, as
    its notes, warnings and error are. A traceback stays inside its record's line.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON (``ensure_ascii``: no control character)."""
        doc: dict[str, Any] = {
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc)


def json_log_config() -> dict[str, Any]:
    """``logging.config.dictConfig`` (and uvicorn's ``log_config``) for ``serve --json``.

    uvicorn's loggers as uvicorn sets them (its log on stderr, the access log on stdout,
    level info), and the key server's own (``keyserver``), warnings and above as
    without ``--json`` (where Python's last-resort handler prints them), all as JSON.
    """
    handler = {"class": "logging.StreamHandler", "formatter": "json"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonLogFormatter"}},
        "handlers": {
            "default": {**handler, "stream": "ext://sys.stderr"},
            "access": {**handler, "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            "keyserver": {"handlers": ["default"], "level": "WARNING", "propagate": False},
        },
    }
