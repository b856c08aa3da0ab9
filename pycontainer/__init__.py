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

Spec: spec/format.md (format v1), spec/protocol.md (key server).
"""

from pycontainer.format.archive import Entry
from pycontainer.format.primitives import Argon2Params
from pycontainer.keyrelease import Evaluation, InProcessKeyServer, KeyServer, SlotInfo
from pycontainer.reader import Container, EntryReader, HeaderInfo, open_container, read_header
from pycontainer.writer import SealResult, seal_paths, seal_stream

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
