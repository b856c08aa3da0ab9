"""The size of a list endpoint's page: one bound for the server and the command, one check.

spec §limits: ``max_list_limit`` is the server's page cap, 1..``LIST_LIMIT_MAX``.
"""

from __future__ import annotations

from keyserver._domain.errors import InvalidRequestError
from keyserver._domain.i18n import N_

# spec §endpoints: ``limit`` is 1..``max_list_limit``, at most 1000. Settings refuse a
# ``max_list_limit`` above it at start, and the ``keyserver`` command's ``--limit`` takes
# exactly this range: a larger cap made the command refuse pages the server allowed, and a
# page is read whole by the remote command (pycontainer.client.transport, 1 MiB at most),
# so an unbounded cap only moved the failure to the answer.
LIST_LIMIT_MAX = 1000
# spec §endpoints: the page size when the request names none.
DEFAULT_PAGE = 100


def page_limit(limit: int | None, cap: int) -> int:
    """The page size of a list request: ``limit``, else the default, never above ``cap``.

    Why a request without ``limit`` gets ``min(DEFAULT_PAGE, cap)`` rather than a refusal:
    on a server whose ``max_list_limit`` is below 100, every listing that named no size
    (``keyserver search``, ``media list``, ``audit list``, ``approvals list`` without
    ``--limit``) was refused "limit must be in 1..50", a size the official never chose.
    A size named and out of range is still refused, with the server's bound.

    Raises:
        InvalidRequestError: ``limit`` outside 1..``cap``.
    """
    if limit is None:
        return min(DEFAULT_PAGE, cap)
    if not 1 <= limit <= cap:
        raise InvalidRequestError(N_("limit must be in 1..%(max)s", max=cap))
    return limit
