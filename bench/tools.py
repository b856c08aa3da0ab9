"""Find the reference tools the benchmarks compare against.

A missing tool is not a crash: ``require`` raises ``MissingToolError`` whose
message tells the user the exact apt command, and ``run.py`` prints it and
skips that part of the benchmark.
"""

from __future__ import annotations

import shutil
from pathlib import Path

# Tools that live outside $PATH on Debian (tangd is socket-activated by systemd).
_EXTRA_DIRS = (Path("/usr/libexec"), Path("/usr/lib/tang"), Path("/usr/sbin"))

APT_HINT = "apt-get update && apt-get install -y age tang wrk hyperfine socat"


class MissingToolError(Exception):
    """A reference tool is not installed; the message says how to install it."""


def find(name: str) -> str | None:
    """Return the path of an executable, looking in $PATH and libexec dirs."""
    found = shutil.which(name)
    if found:
        return found
    for folder in _EXTRA_DIRS:
        candidate = folder / name
        if candidate.is_file():
            return str(candidate)
    return None


def require(name: str, package: str) -> str:
    """Return the path of ``name`` or raise MissingToolError naming the apt package."""
    path = find(name)
    if path is None:
        raise MissingToolError(
            f"reference tool {name!r} (Debian package {package!r}) is not installed; "
            f"install it with: apt-get update && apt-get install -y {package}"
        )
    return path
