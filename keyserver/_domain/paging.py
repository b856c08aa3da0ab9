"""The size of a list endpoint's page: one bound for the server and the command, one check.

spec §limits: ``max_list_limit`` is the server's page cap, 1..``LIST_LIMIT_MAX``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

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


# spec §endpoints: a page of containers or approval requests ends early where its answer
# would pass this many bytes, and its ``next`` is set. Why: every client reads an answer
# whole up to 1 MiB (pycontainer.client.transport.MAX_RESPONSE_BYTES, the `keyserver`
# command's and the readers' one limit), and legitimate items outgrow it: 100 statuses of
# a bulk suspension with a 2,000-character Japanese reason are 1.28 MB, so `keyserver
# search --medium M --limit 100` failed with "the key server's answer is too large" on
# the day of a loss (1,000 items pass it with a 100-character reason). Half the client's
# limit leaves room for the envelope; one item is at most ~160 KB (1,000 readers and
# 1,000 groups of 64-character names, two 2,000-character reasons), so a page always
# holds at least one and paging always moves on.
PAGE_BYTES_MAX = 1 << 19

_Doc = TypeVar("_Doc", bound=Mapping[str, Any])


def fitting(docs: Sequence[_Doc], budget: int = PAGE_BYTES_MAX) -> Sequence[_Doc]:
    """The longest prefix of ``docs`` whose JSON fits ``budget`` bytes (at least one doc).

    Counted as the API encodes an answer (Starlette's JSONResponse: UTF-8, no ASCII
    escapes, no spaces), one comma between items.
    """
    used = 0
    for n, doc in enumerate(docs):
        used += len(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()) + 1
        if used > budget and n > 0:
            return docs[:n]
    return docs
