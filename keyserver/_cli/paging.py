"""``--limit``: the page size of every listing command, one option and one check.

``search``, ``media list``, ``audit list`` and ``approvals list`` each declared it and three
of them checked it, each its own copy (``media list`` not at all: the server's refusal,
exit 6, where the others said a usage error, exit 2). The range is the one every server's
``max_list_limit`` lies in (keyserver._domain.paging, spec §limits), so the command never
refuses a page a server allows; a server with a lower cap answers with it (its refusal
names its own bound), which only it knows. Without ``--limit`` the command names no size
and the server answers its default page, at most its cap: a default of 100 sent as
``limit=100`` was refused by a server whose ``max_list_limit`` is lower, for a size the
official never chose.
"""

from __future__ import annotations

import argparse

from keyserver._cli.errors import EXIT_USAGE, CliError
from keyserver._domain.i18n import N_
from keyserver._domain.paging import DEFAULT_PAGE, LIST_LIMIT_MAX

MOST = LIST_LIMIT_MAX


def add_limit(parser: argparse.ArgumentParser) -> None:
    """Declare ``--limit N`` on a listing subcommand."""
    limit = parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help=N_(
            "page size, 1..%(most)s (default %(page)s, or the server's max_list_limit if lower)"
        ).msgid,
    )
    # The bounds are filled in after the help is translated: argparse fills a help text's
    # %(name)s from the action's attributes (as it does %(default)s), so the catalogue
    # holds one text whatever the bounds are.
    vars(limit).update(most=MOST, page=DEFAULT_PAGE)


def page_size(limit: int | None) -> int | None:
    """``--limit`` once checked, before anything is asked of the server (None: not given).

    Raises:
        CliError: Outside 1..MOST (a usage error).
    """
    if limit is not None and not 1 <= limit <= MOST:
        raise CliError(
            N_("--limit must be between 1 and %(most)s", most=MOST), exit_code=EXIT_USAGE
        )
    return limit
