"""A page of containers ends early where its answer would outgrow a client (spec §endpoints).

Every client reads an answer whole up to 1 MiB (pycontainer.client.transport). 100 statuses
of a bulk suspension with a 2,000-character Japanese reason were 1.28 MB, so on the day of a
loss `keyserver search --medium M --limit 100` failed ("the key server's answer is too
large", exit 7). Here 50 such containers, over a real server: the first page stops under
keyserver._domain.paging.PAGE_BYTES_MAX with ``next`` set, and following ``next`` lists
every container once.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

from keyserver._domain.paging import PAGE_BYTES_MAX
from keyserver._domain.validation import REASON_MAX

COUNT = 50
# Each status carries it twice (reason, public reason): ~12 KB, so 50 pass 512 KiB.
REASON = "紛失" * (REASON_MAX // 2)


def test_search_pages_by_bytes_and_next_lists_the_rest(
    cli: Any, h: ModuleType, data_dir: Any, people: Any, server: str
) -> None:
    settings = data_dir.settings()
    made = {h.make_container(settings, people.writer, medium="BULK-1") for _ in range(COUNT)}
    env = h.clean_env(KEYSERVER_TOKEN=people.official)
    suspend = ("suspend", "--medium", "BULK-1", "--reason", REASON, "--public-reason", REASON)
    assert cli(*suspend, "--yes", "--server", server, env=env).code == 0

    search = ("search", "--medium", "BULK-1", "--limit", "100", "--json", "--server", server)
    first = cli(*search, env=env)
    assert first.code == 0, first
    page = first.json()
    assert 0 < len(page["containers"]) < COUNT and page["next"] is not None
    assert page["next"] == page["containers"][-1]["container_id"]
    size = len(json.dumps(page["containers"], ensure_ascii=False, separators=(",", ":")).encode())
    assert size <= PAGE_BYTES_MAX
    seen = [c["container_id"] for c in page["containers"]]
    while page["next"] is not None:
        page = cli(*search, "--after", page["next"], env=env).json()
        seen += [c["container_id"] for c in page["containers"]]
    assert sorted(seen) == sorted(made)  # each once, none lost at a page's end
