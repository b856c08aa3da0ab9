"""The largest page a list endpoint may return: one bound for the server and the command.

spec §limits: ``max_list_limit`` is the server's page cap, 1..``LIST_LIMIT_MAX``.
"""

from __future__ import annotations

# spec §endpoints: ``limit`` is 1..``max_list_limit``, at most 1000. Settings refuse a
# ``max_list_limit`` above it at start, and the ``keyserver`` command's ``--limit`` takes
# exactly this range: a larger cap made the command refuse pages the server allowed, and a
# page is read whole by the remote command (pycontainer.client.transport, 1 MiB at most),
# so an unbounded cap only moved the failure to the answer.
LIST_LIMIT_MAX = 1000
