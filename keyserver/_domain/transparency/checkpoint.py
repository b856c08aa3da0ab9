"""C2SP tlog-checkpoint bodies (spec §transparency).

The note text is three lines: the log's origin, the tree size in decimal (no leading
zeros), and the root hash in standard base64; this log writes no extension lines and
refuses them, because no witness or auditor could check what they say.
"""

from __future__ import annotations

from dataclasses import dataclass

from keyserver._domain.transparency import TlogFormatError
from keyserver._domain.transparency.merkle import HASH_SIZE
from keyserver._domain.transparency.note import b64decode, b64encode, check_name

MAX_TREE_SIZE = (1 << 63) - 1


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: which log, how many leaves, and the root hash over them."""

    origin: str
    size: int
    root_hash: bytes

    def body(self) -> str:
        """The checkpoint's note text, newline-terminated."""
        return f"{self.origin}\n{self.size}\n{b64encode(self.root_hash)}\n"

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Parse a note text strictly as a checkpoint."""
        if not body.endswith("\n"):
            raise TlogFormatError("a checkpoint ends with a newline")
        lines = body[:-1].split("\n")
        if len(lines) != 3:
            raise TlogFormatError("a checkpoint of this log has exactly three lines")
        origin, size_text, root_text = lines
        # tlog-checkpoint: decimal, no leading zeros unless the tree is empty.
        if (
            not size_text.isascii()
            or not size_text.isdigit()
            or (size_text != "0" and size_text.startswith("0"))
        ):
            raise TlogFormatError("the checkpoint's tree size is not a plain decimal number")
        size = int(size_text)
        if size > MAX_TREE_SIZE:
            raise TlogFormatError("the checkpoint's tree size is too large")
        root_hash = b64decode(root_text, "the checkpoint's root hash")
        if len(root_hash) != HASH_SIZE:
            raise TlogFormatError("the checkpoint's root hash is not 32 bytes")
        return cls(check_name(origin), size, root_hash)
