"""Command lines of ``rwc`` that the tests of tests/cli share (in process, as a process, on a tty).

``KDF``: Argon2id at its smallest allowed cost, so that a test's seal and open take
milliseconds (the cost is the container's, read back by every open). ``seal_args``: a seal
of one input for one reader on one medium, the shape most tests need.
"""

from __future__ import annotations

import os

KDF = ["--kdf-memory", "8192", "--kdf-time", "1", "--kdf-parallelism", "1"]
CLERK = "clerk@city.example"


def seal_args(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    server_url: str,
    *,
    medium: str = "M",
    reader: str = CLERK,
) -> list[str]:
    """``rwc seal SOURCE -o OUT --server URL --medium M --reader READER`` with :data:`KDF`."""
    return [
        "seal",
        os.fspath(source),
        "-o",
        os.fspath(out),
        "--server",
        server_url,
        "--medium",
        medium,
        "--reader",
        reader,
        *KDF,
    ]
