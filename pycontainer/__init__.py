"""rwc container library: seal files into containers that open only with the key server.

Public API (stable; the CLI and the HTTP client build on it):

- :func:`pycontainer.writer.seal_paths`, :func:`pycontainer.writer.seal_stream`
  -> :class:`pycontainer.writer.SealResult`
- :func:`pycontainer.reader.read_header` -> :class:`pycontainer.reader.HeaderInfo`
- :func:`pycontainer.reader.open_container` -> :class:`pycontainer.reader.Container`
- :class:`pycontainer.keyrelease.SlotInfo`, :class:`pycontainer.keyrelease.Evaluation`,
  :class:`pycontainer.keyrelease.KeyServer`, :class:`pycontainer.keyrelease.InProcessKeyServer`
- :class:`pycontainer.format.primitives.Argon2Params`
- errors in :mod:`pycontainer.errors`

The names are loaded on first use (PEP 562): every ``import pycontainer.X``, the ``rwc``
command's included, imports this package first, and loading the whole library here would
make each command pay for the modules it does not use (issue 15: start-up of a small
``rwc cat``). ``from pycontainer import seal_paths`` works as before.

Spec: spec/format.md (format v1), spec/protocol.md (key server).
"""

from __future__ import annotations

# typing.TYPE_CHECKING without importing typing, which type checkers read the same way:
# `rwc`'s console script imports this package before its entry point switches the garbage
# collector off (pycontainer/cli/entry.py), so every module imported here is imported with
# the collector's passes running (issue 15, bench/profiles/startup.md).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycontainer.format.archive import Entry
    from pycontainer.format.primitives import Argon2Params
    from pycontainer.keyrelease import Evaluation, InProcessKeyServer, KeyServer, SlotInfo
    from pycontainer.reader import Container, EntryReader, HeaderInfo, open_container, read_header
    from pycontainer.writer import SealResult, seal_paths, seal_stream

# The distribution's version, written only here: pyproject.toml reads it (setuptools'
# `attr`, without importing the package), `rwc --version` prints it (no importlib.metadata,
# issue 15) and `keyserver --version` prints it too (`keyserver.__version__`).
__version__ = "0.1.0"

# Public name -> the module that defines it.
_HOME = {
    "Argon2Params": "pycontainer.format.primitives",
    "Container": "pycontainer.reader",
    "Entry": "pycontainer.format.archive",
    "EntryReader": "pycontainer.reader",
    "Evaluation": "pycontainer.keyrelease",
    "HeaderInfo": "pycontainer.reader",
    "InProcessKeyServer": "pycontainer.keyrelease",
    "KeyServer": "pycontainer.keyrelease",
    "SealResult": "pycontainer.writer",
    "SlotInfo": "pycontainer.keyrelease",
    "open_container": "pycontainer.reader",
    "read_header": "pycontainer.reader",
    "seal_paths": "pycontainer.writer",
    "seal_stream": "pycontainer.writer",
}

__all__ = [
    "Argon2Params",
    "Container",
    "Entry",
    "EntryReader",
    "Evaluation",
    "HeaderInfo",
    "InProcessKeyServer",
    "KeyServer",
    "SealResult",
    "SlotInfo",
    "open_container",
    "read_header",
    "seal_paths",
    "seal_stream",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'pycontainer' has no attribute {name!r}")
    import importlib  # noqa: PLC0415 - see TYPE_CHECKING above

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # once loaded, a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
