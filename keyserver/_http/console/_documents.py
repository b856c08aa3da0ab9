"""The signed incident documents as the console offers them: file names, the check command.

spec §transparency "Reports": the signed medium report and the destruction certificate
(keyserver/_service/incident.py) are verified offline with ``keyserver verify-report``; every
page that offers one shows the exact command, with this server's log key and witnesses.
"""

from __future__ import annotations

import shlex

from keyserver._domain.errors import NotFoundError
from keyserver._http.console._page import Page

MEDIUM_REPORT = "medium-report"
CERTIFICATE = "destruction-certificate"


def file_name(kind: str, medium: str) -> str:
    """The download's file name: ``medium-report-USB-2022-06-AMA.json`` (ASCII only)."""
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "-" for ch in medium)
    return f"{kind}-{safe[:60]}.json"


def verify_command(page: Page, kind: str, medium: str) -> str | None:
    """The ``keyserver verify-report`` line for a downloaded document (None: no log here)."""
    try:
        info = page.service.log_info()
    except NotFoundError:  # a server that keeps no transparency log signs no document
        return None
    words = ["keyserver", "verify-report", file_name(kind, medium), "--log-key", info["log_key"]]
    for witness in info["witness_keys"]:
        words += ["--witness-key", witness]
    if info["witness_keys"]:
        # As many cosignatures as the server asked for, not one per witness named.
        words += ["--min-cosignatures", str(info["min_cosignatures"])]
    return shlex.join(words)
