"""The ``rwc`` console script's entry point (pyproject.toml ``[project.scripts]``).

It runs the process's import phase without the cyclic garbage collector, then hands the
collector back before the subcommand's work starts (:func:`main`), and keeps argparse's own
messages in English without gettext look-ups (:func:`_argparse_in_english`). Everything else is
:mod:`pycontainer.cli.main`, whose ``run`` and ``main`` tests and other programs call.

Only this module may do it: importing it has no effect, and only the console script,
whose process runs ``rwc`` and nothing else, calls :func:`main`.
"""

import gc
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rwc``: the console script calls it without ``argv`` (see cli.main.main).

    Performance (issue 15, bench/profiles/startup.md): while a small ``rwc cat`` imports
    its ~200 modules and builds its parsers, the collector makes passes over objects that
    all live until the process ends (classes, functions, module dictionaries): ~12 M
    instructions, a twentieth of the start-up, with nothing there to find. So
    the collector is off from here until the subcommand's modules are imported, then those
    objects are moved out of its reach for good (``gc.freeze``: later passes never walk
    them again) and it is switched back on, before any work begins: a 10 GiB open or seal
    runs with the collector as always. Why here and not in the library: a program that
    imports pycontainer owns its interpreter and its collector; this process is ``rwc``'s.
    """
    gc.disable()
    try:
        _argparse_in_english()
        # Imported here, with the collector off (see above).
        from pycontainer.cli import main as cli  # noqa: PLC0415
    except BaseException:
        gc.enable()
        raise
    return cli.main(argv, after_imports=_collect_from_now_on)


def _argparse_in_english() -> None:
    """Keep argparse's own words in English, without asking gettext for their translation.

    Why: pycontainer.cli.strictargs reads argparse's English messages back, to say them in
    the reader's language from rwc's own table (cli/texts.py); a translation that gettext
    found in the interpreter's share/locale (under the catch-all domain ``messages``) could
    only break that. And the asking cost every run ~9 M instructions (issue 15,
    bench/profiles/startup.md): argparse looks up each of its texts as it builds rwc's
    parsers, and every look-up reads the locale variables, normalizes them (the first one
    imports ``locale``) and stats a catalogue file per language variant, to find none.
    Like the collector, a setting of this process only: a program that imports pycontainer
    keeps its argparse as it is.
    """
    import argparse  # noqa: PLC0415 - with the collector off, as the other imports

    def english(message: str) -> str:
        return message

    def english_plural(singular: str, plural: str, n: int) -> str:
        return singular if n == 1 else plural  # gettext's own fallback

    argparse._ = english  # type: ignore[attr-defined]
    argparse.ngettext = english_plural  # type: ignore[attr-defined]


def _collect_from_now_on() -> None:
    """The import phase is over: freeze what it made, and collect from now on."""
    gc.freeze()
    gc.enable()
