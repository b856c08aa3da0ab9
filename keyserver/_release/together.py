"""PostgreSQL: statements whose answers the batch does not wait for, sent in ONE round trip.

Why (issue 15, bench/README.md "Session 19: scaling on PostgreSQL (scale11)"): a release
batch costs its PostgreSQL backend and the committer a fixed amount of CPU per round trip
(the backend wakes, reads, answers and sleeps again; psycopg sends, waits and parses), and
two processes split the requests into batches half as large, so they pay it twice as
often per release. Two of a batch's nine round trips carried nothing the batch needed the
answer of before the next:

- ``BEGIN``, which psycopg sends on its own, and waits for, before a transaction's first
  statement (the tokens read, keyserver/_release/hotpath.py ``Batch.read_tokens``), even
  in pipeline mode; so the batches' connection runs in psycopg's autocommit mode while
  the committer holds it (keyserver/_release/held.py) and the batch sends its own
  ``BEGIN`` in the first statement's round trip (:func:`together`, ``begin``);
- the batch's ``COMMIT`` after its one writing statement (``Batch.store_head``).

psycopg's pipeline mode (https://www.psycopg.org/psycopg3/docs/advanced/pipeline.html)
queues them and sends them with the next statement, up to one ``Sync``: one round trip.

Why this changes no guarantee (spec §consistency): PostgreSQL runs a pipeline's
statements one after the other, in the order sent, in the same session and transaction,
exactly as if each had waited for the one before; only the client no longer waits in
between. If a statement fails, PostgreSQL skips every later one up to the ``Sync`` (the
protocol's "pipeline aborted"): a ``COMMIT`` after a failed write is never run, the
transaction stays failed and is rolled back, and psycopg raises the write's own error,
so the batch's error handling (batch.py) is unchanged. The answer to every request
still waits for the ``COMMIT``'s result and then for the flush
(keyserver/_store/durability.py), which stays a round trip of its own, after COMMIT.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


def together(
    cur: Any, *, postgres: bool, begin: bool = False
) -> contextlib.AbstractContextManager[Any]:
    """Send the statements run on ``cur`` in the block together (PostgreSQL; else as they come).

    Their results are read after the block (psycopg keeps them on the cursor); an error
    of any of them is raised when the block is left. ``begin``: the block starts the
    transaction, so a ``BEGIN`` goes first if the connection is in autocommit mode and
    in no transaction (not in autocommit, psycopg sends its own: correct, one more round
    trip).
    """
    if not postgres:
        return contextlib.nullcontext()
    return _pipeline(cur, begin)


@contextlib.contextmanager
def _pipeline(cur: Any, begin: bool) -> Iterator[None]:
    from psycopg.pq import TransactionStatus  # noqa: PLC0415 - PostgreSQL only

    raw = cur.connection
    with raw.pipeline():
        if begin and raw.autocommit and raw.info.transaction_status == TransactionStatus.IDLE:
            cur.execute("BEGIN", prepare=False)  # nothing to plan: never a prepared name
        yield
