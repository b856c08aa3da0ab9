#!/usr/bin/env python3
"""Generate the rwc v1 test vectors deterministically (format: spec/vectors/README.md).

Usage: ``python spec/vectors/generate.py [--out DIR]`` (``make vectors``). Without ``--out`` the
vectors are (re)written into spec/vectors/ itself, and vector files that are no longer
generated are removed.

Positive vectors that a real writer can produce are sealed by pycontainer's own writer
(``seal_paths`` / ``seal_stream``) with a deterministic ``rng`` and an ``InProcessKeyServer``
holding a fixed seed. Every other vector is assembled by ``builder.py``, an independent
implementation of the writer side of spec/format.md, which seals faulty containers with the
real keys so that each one breaks exactly the rule named in its ``spec:`` line.

Length: one generator per vector file would repeat the key schedule set-up 150 times; the
independent writer is builder.py.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import io
import json
import os
import struct
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.dont_write_bytecode = True  # keep spec/vectors/ free of __pycache__
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent.parent))

import builder as b  # noqa: E402

from pycontainer.format.primitives import Argon2Params  # noqa: E402
from pycontainer.keyrelease import InProcessKeyServer  # noqa: E402
from pycontainer.writer import seal_paths, seal_stream  # noqa: E402

NOT_VECTORS = {"README.md", "generate.py", "builder.py"}
ARGON2 = Argon2Params(m=8192, t=1, p=1)
CHUNK_LOG2 = 12
C = 1 << CHUNK_LOG2


@dataclass
class Vector:
    """One test vector: what a reader given ``body`` must do."""

    name: str
    expect: str
    body: bytes
    seed: bytes
    password: str
    comment: str
    spec: list[str] = field(default_factory=list)
    also: list[str] = field(default_factory=list)
    evaluated_element: bytes | None = None
    files: list[tuple[str, bytes]] = field(default_factory=list)
    directories: list[str] = field(default_factory=list)
    receipt_key: bytes | None = None
    header_digest: bytes | None = None
    intermediates: list[tuple[str, bytes]] = field(default_factory=list)

    def encode(self) -> bytes:
        lines = [f"expect: {self.expect}"]
        lines += [f"spec: {s}" for s in self.spec]
        lines += [f"also: {s}" for s in self.also]
        lines.append(f"server seed: {self.seed.hex()}")
        if self.evaluated_element is not None:
            lines.append(f"evaluated element: {self.evaluated_element.hex()}")
        lines.append(f"password: {self.password}")
        lines += [f"file: {p} {hashlib.sha256(c).hexdigest()}" for p, c in self.files]
        lines += [f"directory: {d}" for d in self.directories]
        if self.receipt_key is not None:
            lines.append(f"receipt key: {self.receipt_key.hex()}")
        if self.header_digest is not None:
            lines.append(f"header digest: {self.header_digest.hex()}")
        lines += [f"{key}: {value.hex()}" for key, value in self.intermediates]
        lines.append(f"comment: {self.comment}")
        for line in lines:
            assert "\n" not in line, line
        return ("\n".join(lines) + "\n\n").encode("utf-8") + self.body


VECTORS: list[Callable[[], Vector]] = []


def vector(fn: Callable[[], Vector]) -> Callable[[], Vector]:
    VECTORS.append(fn)
    return fn


# --- content --------------------------------------------------------------------------------


def csv(rows: int, start: int = 0) -> bytes:
    """Deterministic, obviously synthetic resident rows."""
    out = ["id,name,ward,born\n"]
    out += [
        f"{i:06d},resident-{i:06d},ward-{i % 6},19{40 + i % 60:02d}-0{1 + i % 9}-1{i % 10}\n"
        for i in range(start, start + rows)
    ]
    return "".join(out).encode()


SMALL = [b.Entry("readme.txt", b"Synthetic test data; no real person.\n")]


def tree() -> list[b.Entry]:
    """A directory, a ~10 KB file (3 chunks of 4 KiB with the index) and a small file."""
    return [
        b.Entry("register", kind=b.DIRECTORY, mode=0o755),
        b.Entry("register/residents.csv", csv(200), mode=0o640, mtime_ns=123_456_789),
        b.Entry("readme.txt", b"Synthetic test data; no real person.\n", mode=0o600),
    ]


def from_builder(
    bld: b.Builder,
    body: bytes,
    expect: str,
    comment: str,
    *,
    spec: list[str] | None = None,
    password: str | None = None,
    seed: bytes | None = None,
) -> Vector:
    v = Vector(
        name=bld.name,
        expect=expect,
        body=body,
        seed=bld.seed if seed is None else seed,
        password=bld.password if password is None else password,
        comment=comment,
        spec=spec or [],
    )
    if expect == "success":
        for e in bld.entries:
            path = e.path if isinstance(e.path, str) else e.path.decode()
            if e.kind == b.FILE:
                v.files.append((path, e.content))
            else:
                v.directories.append(path)
        v.receipt_key = bld.receipt_key
        n = struct.unpack(">I", body[10:14])[0]
        v.header_digest = hashlib.sha256(body[:n]).digest()
        oprf_out = b.oprf_output(
            bld.seed, b.LABEL_OPRF_INPUT + bld.container_id + bld.password.encode()
        )
        v.intermediates = [
            ("oprf output", oprf_out),
            ("kek", bld.kek()),
            ("dek", bld.dek),
            ("payload key", bld.payload_key),
        ]
    return v


BuildFn = Callable[[b.Builder], bytes]


def fail(
    name: str, rule: str, expect: str, comment: str, **kw: object
) -> Callable[[BuildFn], Callable[[], Vector]]:
    """Decorator for a builder-made negative vector: fn(builder) -> container bytes."""

    def deco(fn: Callable[[b.Builder], bytes]) -> Callable[[], Vector]:
        def make() -> Vector:
            bld = b.Builder(name, **kw)  # type: ignore[arg-type]
            if not bld.entries:
                bld.entries = list(SMALL)
            return from_builder(bld, fn(bld), expect, comment, spec=[rule])

        make.__name__ = name
        VECTORS.append(make)
        return make

    return deco


# --- positive vectors sealed by pycontainer's writer ---------------------------------------

Tree = list[tuple[str, bytes | None, int, int]]  # (path, content or None for a dir, mode, mtime_ns)


def _materialize(root: Path, items: Tree) -> list[Path]:
    """Create the files; return the top-level inputs, sorted."""
    for path, content, _, _ in items:
        target = root / path
        if content is None:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    # Modes and times last, deepest first, so creating children does not touch them.
    for path, _, mode, mtime_ns in sorted(items, key=lambda i: -i[0].count("/")):
        (root / path).chmod(mode)
        os.utime(root / path, ns=(mtime_ns, mtime_ns))
    return sorted(root / name for name in {i[0].split("/")[0] for i in items})


def sealed(
    name: str,
    comment: str,
    *,
    items: Tree | None = None,
    stream: tuple[str, bytes, int] | None = None,
    password: str = b.DEFAULT_PASSWORD,
) -> Vector:
    """Seal with pycontainer's writer: deterministic rng, in-process server, fixed seed."""
    rng = b.Drbg(name)
    seed, container_id = rng(32), rng(16)
    server = InProcessKeyServer(url=b.DEFAULT_URL.decode(), rng=b.Drbg(name + "/server"))
    slot = server.register(seed=seed, container_id=container_id)
    common = {
        "slot": slot,
        "key_server": server,
        "password": password,
        "chunk_log2": CHUNK_LOG2,
        "argon2": ARGON2,
        "rng": rng,
        "workers": 1,
    }
    v = Vector(name, "success", b"", seed, password, comment)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "container.rwc"
        if items is not None:
            inputs = _materialize(Path(tmp) / "in", items)
            result = seal_paths(inputs, out, **common)  # type: ignore[arg-type]
            for path, content, _, _ in items:
                if content is None:
                    v.directories.append(path)
                else:
                    v.files.append((path, content))
        else:
            assert stream is not None
            entry, content, mtime_ns = stream
            result = seal_stream(
                io.BytesIO(content),
                entry,
                out,
                mtime_ns=mtime_ns,
                **common,  # type: ignore[arg-type]
            )
            v.files.append((entry, content))
        v.body = out.read_bytes()
    v.receipt_key = result.receipt_key
    v.header_digest = result.header_digest
    return v


T0 = 1_656_633_600_000_000_000  # 2022-07-01T00:00:00Z in ns


@vector
def ok_files_and_directories() -> Vector:
    return sealed(
        "ok_files_and_directories",
        "pycontainer writer: nested directories, an empty directory, an empty file, "
        "non-ASCII NFC names, several chunks",
        items=[
            ("export", None, 0o755, T0),
            ("export/register", None, 0o750, T0 + 1),
            ("export/register/residents.csv", csv(120), 0o640, T0 + 123_456_789),
            ("export/register/empty.txt", b"", 0o600, T0 + 5),
            ("export/notes", None, 0o700, T0 + 2),
            ("export/尼崎市", None, 0o755, T0 + 3),
            ("export/尼崎市/名簿.txt", "住民名簿 合成データ\n".encode() * 40, 0o644, T0 + 999),
            ("summary.txt", b"120 synthetic residents\n", 0o644, T0 - 1),
        ],
    )


@vector
def ok_many_files() -> Vector:
    items: Tree = [("archive", None, 0o755, T0)]
    for d in range(12):
        items.append((f"archive/ward-{d:02d}", None, 0o750, T0 + d))
        items += [
            (
                f"archive/ward-{d:02d}/household-{h:03d}.txt",
                f"ward {d} household {h}\n".encode() * (h % 3),
                0o640,
                T0 + 1000 * d + h,
            )
            for h in range(20)
        ]
    return sealed(
        "ok_many_files",
        "253 entries: the index alone spans several 4 KiB chunks; a third of the files are empty",
        items=items,
    )


@vector
def ok_exact_chunk_multiple() -> Vector:
    # Payload plaintext = content + index (4 + 25 + len("exact.bin")) + trailer (8) = 3 * C.
    size = 3 * C - (4 + 25 + len("exact.bin") + 8)
    return sealed(
        "ok_exact_chunk_multiple",
        "payload plaintext is exactly 3 chunks: the final chunk is full (C bytes, last=1)",
        items=[("exact.bin", bytes(range(256)) * (size // 256) + bytes(size % 256), 0o644, T0)],
    )


@vector
def ok_several_chunks() -> Vector:
    return sealed(
        "ok_several_chunks",
        "two files spanning 6 chunks; the second file starts inside a chunk",
        items=[
            ("a.csv", csv(150), 0o644, T0),
            ("b.csv", csv(150, start=150), 0o644, T0),
        ],
    )


@vector
def ok_stream_entry() -> Vector:
    return sealed(
        "ok_stream_entry",
        "one-stream container (seal_stream), entry named 'stdin', mode 0o600",
        stream=("stdin", csv(90), T0 + 42),
    )


@vector
def ok_empty_password() -> Vector:
    return sealed(
        "ok_empty_password",
        "empty password: oprf_input is the label and the container id only",
        items=[("readme.txt", b"protected by the key server policy alone\n", 0o644, T0)],
        password="",
    )


@vector
def ok_unicode_password() -> Vector:
    return sealed(
        "ok_unicode_password",
        "non-ASCII password, used as its UTF-8 bytes without normalization",
        items=[("readme.txt", b"Synthetic test data; no real person.\n", 0o644, T0)],
        password="尼崎市 パスワード ß",  # noqa: S106 -- a published vector password
    )


@vector
def ok_empty_directory() -> Vector:
    return sealed(
        "ok_empty_directory",
        "no file data at all: one empty directory; plaintext = index || trailer",
        items=[("empty", None, 0o755, T0)],
    )


@vector
def ok_empty_file() -> Vector:
    return sealed(
        "ok_empty_file",
        "one file of 0 bytes",
        items=[("empty.txt", b"", 0o644, T0)],
    )


# --- positive vectors assembled by builder.py ----------------------------------------------


def ok(name: str, comment: str, **kw: object) -> Callable[[Callable[[b.Builder], bytes]], None]:
    def deco(fn: Callable[[b.Builder], bytes]) -> None:
        def make() -> Vector:
            bld = b.Builder(name, **kw)  # type: ignore[arg-type]
            if not bld.entries:
                bld.entries = list(SMALL)
            return from_builder(bld, fn(bld), "success", comment)

        make.__name__ = name
        VECTORS.append(make)

    return deco


@ok("ok_builder_baseline", "builder.py with no fault: the base of every negative vector")
def _(bld: b.Builder) -> bytes:
    bld.entries = tree()
    return bld.build()


@ok("ok_no_entries", "entry_count 0: plaintext is 00000000 || trailer(4), 12 bytes")
def _(bld: b.Builder) -> bytes:
    bld.entries = []
    return bld.build()


@ok("ok_unknown_slot_skipped", "a slot of unknown type 0x7777 before the server-oprf slot")
def _(bld: b.Builder) -> bytes:
    return bld.header(slots=[(0x7777, b"future slot"), (1, bld.oprf_slot())]) + bld.payload()


@ok(
    "ok_second_slot_not_needed",
    "two server-oprf slots; the first unwraps with the password (the second was wrapped for "
    "another password), so every reader succeeds",
)
def _(bld: b.Builder) -> bytes:
    given = bld.password
    bld.password = "another password"  # noqa: S105 -- a vector password
    second = bld.oprf_slot()
    bld.password = given
    return bld.header(slots=[(1, bld.oprf_slot()), (1, second)]) + bld.payload()


@ok("ok_noncritical_extension_ignored", "an unknown non-critical extension (flags 0x00)")
def _(bld: b.Builder) -> bytes:
    return bld.header(exts=[(0x0042, 0x00, b"ignore me")]) + bld.payload()


@ok(
    "ok_trailer_split_across_chunks",
    "the final chunk holds 3 plaintext bytes: the trailer starts in the chunk before",
)
def _(bld: b.Builder) -> bytes:
    # len(P) = content + 4 + 25 + len("split.bin") + 8 = C + 3.
    n = C + 3 - (4 + 25 + len("split.bin") + 8)
    bld.entries = [b.Entry("split.bin", bytes(i % 251 for i in range(n)))]
    return bld.build()


@ok(
    "ok_chunk_log2_24",
    "largest chunk size (16 MiB): a small payload is one short chunk",
    chunk_log2=24,
)
def _(bld: b.Builder) -> bytes:
    return bld.build()


@ok("ok_implicit_parent_directories", "a/b/c.txt without entries for a or a/b")
def _(bld: b.Builder) -> bytes:
    bld.entries = [b.Entry("a/b/c.txt", b"deep\n"), b.Entry("a/d.txt", b"less deep\n")]
    return bld.build()


@ok("ok_entries_unsorted", "entries in no particular order; readers must not require one")
def _(bld: b.Builder) -> bytes:
    bld.entries = [
        b.Entry("z.txt", b"last letter\n"),
        b.Entry("dir/file.txt", b"child before its directory\n"),
        b.Entry("dir", kind=b.DIRECTORY, mode=0o700),
        b.Entry("a.txt", b"first letter\n"),
    ]
    return bld.build()


@ok(
    "ok_http_loopback_url",
    "http:// is allowed for a loopback host",
    url=b"http://127.0.0.1:8443/rwc",
)
def _(bld: b.Builder) -> bytes:
    return bld.build()


@ok(
    "ok_url_uppercase_scheme",
    "scheme and host compare case-insensitively",
    url=b"HTTPS://Keys.City.Amagasaki.example/",
)
def _(bld: b.Builder) -> bytes:
    return bld.build()


@ok("ok_url_localhost_http", "http://localhost with a port", url=b"http://localhost:8080/")
def _(bld: b.Builder) -> bytes:
    return bld.build()


@ok("ok_url_ipv6_loopback_http", "http://[::1] with a path", url=b"http://[::1]:8443/keys/")
def _(bld: b.Builder) -> bytes:
    return bld.build()


@ok("ok_extreme_metadata", "mode 0, mtime before 1970, largest mtime_ns, 255-byte component")
def _(bld: b.Builder) -> bytes:
    bld.entries = [
        b.Entry("old.txt", b"x", mode=0, mtime_s=-86_400, mtime_ns=999_999_999),
        b.Entry("n" * 255, b"long name\n", mode=0o777, mtime_s=2**40),
    ]
    return bld.build()


# --- header ---------------------------------------------------------------------------------


@fail("header_magic_bad", "[F-MAGIC]", "format error", "magic ends in 0B instead of 0A")
def _(bld: b.Builder) -> bytes:
    return bld.header(magic=b.MAGIC[:7] + b"\x0b") + bld.payload()


@fail(
    "header_magic_crlf_converted",
    "[F-MAGIC]",
    "format error",
    "the file went through a CRLF-to-LF conversion",
)
def _(bld: b.Builder) -> bytes:
    return (bld.header() + bld.payload()).replace(b"\r\n", b"\n", 1)


@fail("header_file_too_short", "[F-MAGIC]", "format error", "a 6-byte file")
def _(bld: b.Builder) -> bytes:
    return b.MAGIC[:6]


@fail("header_version_2", "[F-VERSION]", "unsupported version", "version 2 (future)")
def _(bld: b.Builder) -> bytes:
    return bld.header(version=2) + bld.payload()


@fail("header_version_0", "[F-VERSION]", "unsupported version", "version 0")
def _(bld: b.Builder) -> bytes:
    return bld.header(version=0) + bld.payload()


@fail("header_length_below_minimum", "[F-HLEN-RANGE]", "format error", "header_length 63")
def _(bld: b.Builder) -> bytes:
    return bld.header(header_length=63) + bld.payload()


@fail(
    "header_length_above_maximum",
    "[F-HLEN-RANGE]",
    "format error",
    "header_length 65537 (the file is long enough)",
)
def _(bld: b.Builder) -> bytes:
    return bld.header(header_length=65537) + bld.payload() + bytes(65537)


@fail("header_length_huge", "[F-HLEN-RANGE]", "format error", "header_length 2^32-1")
def _(bld: b.Builder) -> bytes:
    return bld.header(header_length=0xFFFFFFFF) + bld.payload()


@fail(
    "header_truncated",
    "[F-HLEN-FILE]",
    "format error",
    "the file ends 10 bytes before header_length",
)
def _(bld: b.Builder) -> bytes:
    return bld.header()[:-10]


@fail(
    "header_length_one_short",
    "[F-HLEN-MATCH]",
    "format error",
    "header_length one less than the encoded header: the last extension runs into the MAC",
)
def _(bld: b.Builder) -> bytes:
    return bld.header(header_length_delta=-1) + bld.payload()


@fail(
    "header_length_one_long",
    "[F-HLEN-MATCH]",
    "format error",
    "header_length one more than the encoded header: a stray byte before the MAC",
)
def _(bld: b.Builder) -> bytes:
    unsigned = bld.unsigned_header(header_length_delta=1) + b"\x00"
    return bld.sign(unsigned) + bld.payload()


@fail(
    "header_ext_length_past_mac",
    "[F-HLEN-MATCH]",
    "format error",
    "an extension's length runs past header_length - 32",
)
def _(bld: b.Builder) -> bytes:
    unsigned = bld.unsigned_header(exts=[(0x0042, 0, b"abcd")])
    unsigned = unsigned[:-6] + struct.pack(">H", 200) + unsigned[-4:]
    return bld.sign(unsigned) + bld.payload()


@fail("header_suite_2", "[F-SUITE]", "unsupported version", "suite 2 (unknown)")
def _(bld: b.Builder) -> bytes:
    return bld.header(suite=2) + bld.payload()


@fail("header_suite_0", "[F-SUITE]", "unsupported version", "suite 0")
def _(bld: b.Builder) -> bytes:
    return bld.header(suite=0) + bld.payload()


@fail(
    "header_chunk_log2_11",
    "[F-CHUNK-LOG2]",
    "format error",
    "chunk_log2 11 (payload sealed with 2 KiB chunks)",
    chunk_log2=11,
)
def _(bld: b.Builder) -> bytes:
    return bld.build()


@fail("header_chunk_log2_25", "[F-CHUNK-LOG2]", "format error", "chunk_log2 25", chunk_log2=25)
def _(bld: b.Builder) -> bytes:
    return bld.build()


@fail("header_chunk_log2_255", "[F-CHUNK-LOG2]", "format error", "chunk_log2 255")
def _(bld: b.Builder) -> bytes:
    return bld.header(chunk_log2=255) + bld.payload()


@fail("header_slot_count_0", "[F-SLOT-COUNT]", "format error", "no slot at all")
def _(bld: b.Builder) -> bytes:
    return bld.header(slots=[]) + bld.payload()


@fail(
    "header_slot_count_9",
    "[F-SLOT-COUNT]",
    "format error",
    "9 slots: the server-oprf slot and 8 unknown ones",
)
def _(bld: b.Builder) -> bytes:
    slots = [(1, bld.oprf_slot())] + [(0x7000 + i, b"x") for i in range(8)]
    return bld.header(slots=slots) + bld.payload()


@fail(
    "header_no_usable_slot",
    "[F-NO-SLOT]",
    "unsupported version",
    "the only slot has the unknown type 0x7777",
)
def _(bld: b.Builder) -> bytes:
    return bld.header(slots=[(0x7777, b"future slot")]) + bld.payload()


@fail("header_ext_count_17", "[F-EXT-COUNT]", "format error", "17 non-critical extensions")
def _(bld: b.Builder) -> bytes:
    return bld.header(exts=[(0x100 + i, 0, b"") for i in range(17)]) + bld.payload()


@fail(
    "header_ext_reserved_flag",
    "[F-EXT-FLAGS]",
    "format error",
    "a non-critical extension with flag bit 1 (0x02) set",
)
def _(bld: b.Builder) -> bytes:
    return bld.header(exts=[(0x0042, 0x02, b"x")]) + bld.payload()


@fail(
    "header_ext_reserved_flag_high",
    "[F-EXT-FLAGS]",
    "format error",
    "a critical extension with flag bit 7 also set (0x81)",
)
def _(bld: b.Builder) -> bytes:
    return bld.header(exts=[(0x0042, 0x81, b"x")]) + bld.payload()


@fail(
    "header_ext_critical_unknown",
    "[F-EXT-CRITICAL]",
    "unsupported version",
    "an unknown critical extension (flags 0x01)",
)
def _(bld: b.Builder) -> bytes:
    return bld.header(exts=[(0x0042, 0x01, b"must understand")]) + bld.payload()


# --- slot -----------------------------------------------------------------------------------


@fail(
    "slot_length_short",
    "[F-SLOT-LENGTH]",
    "format error",
    "slot_length 154 + U - 1: the wrapped keys are one byte short",
)
def _(bld: b.Builder) -> bytes:
    return bld.header(slots=[(1, bld.oprf_slot(wrapped_len=79))]) + bld.payload()


@fail(
    "slot_length_long",
    "[F-SLOT-LENGTH]",
    "format error",
    "slot_length 154 + U + 1: a stray byte after the wrapped keys",
)
def _(bld: b.Builder) -> bytes:
    return bld.header(slots=[(1, bld.oprf_slot(extra=b"\x00"))]) + bld.payload()


@fail(
    "slot_url_length_past_slot",
    "[F-SLOT-LENGTH]",
    "format error",
    "url_length larger than the slot",
)
def _(bld: b.Builder) -> bytes:
    return bld.header(slots=[(1, bld.oprf_slot(url_length=4000, sealable=False))]) + bld.payload()


def _url_vector(name: str, url: bytes, comment: str) -> None:
    @fail(name, "[F-URL]", "format error", comment, url=url)
    def _(bld: b.Builder) -> bytes:
        return bld.build()


_url_vector("slot_url_empty", b"", "url_length 0")
_url_vector(
    "slot_url_http_remote",
    b"http://keys.city.amagasaki.example/",
    "plain http:// to a host that is not loopback",
)
_url_vector("slot_url_ftp", b"ftp://keys.city.amagasaki.example/", "scheme ftp")
_url_vector("slot_url_relative", b"keys.city.amagasaki.example/v1", "no scheme")
_url_vector("slot_url_no_host", b"https:///v1", "empty host")
_url_vector(
    "slot_url_userinfo",
    b"https://reader:secret@keys.city.amagasaki.example/",
    "userinfo (credentials) in the URL",
)
_url_vector("slot_url_space", b"https://keys.city.amagasaki.example/a b", "a space")
_url_vector("slot_url_newline", b"https://keys.city.amagasaki.example/\nx", "a line feed")
_url_vector(
    "slot_url_nbsp",
    "https://keys.city.amagasaki.example/\u00a0".encode(),
    "U+00A0 NO-BREAK SPACE (Unicode White_Space)",
)
_url_vector("slot_url_bad_utf8", b"https://keys.city.amagasaki.example/\xff", "byte FF")
_url_vector("slot_url_bad_port", b"https://keys.city.amagasaki.example:99999/", "port 99999")
_url_vector(
    "slot_url_too_long", b"https://keys.city.amagasaki.example/" + b"a" * 2013, "2049 bytes"
)
_url_vector("slot_url_http_short_ipv4", b"http://127.1/", "http:// to '127.1' (not four octets)")
_url_vector(
    "slot_url_http_leading_zero",
    b"http://127.000.000.001/",
    "http:// to an IPv4 literal with leading zeros",
)
_url_vector(
    "slot_url_http_ipv4_mapped",
    b"http://[::ffff:127.0.0.1]:8443/",
    "http:// to the IPv4-mapped IPv6 form of 127.0.0.1 (only ::1 counts)",
)
_url_vector(
    "slot_url_http_lookalike",
    b"http://127.0.0.1.example/",
    "http:// to a DNS name that only looks like a loopback address",
)


@fail(
    "slot_public_key_identity",
    "[F-PUBKEY]",
    "format error",
    "public_key is the identity element (32 zero bytes)",
)
def _(bld: b.Builder) -> bytes:
    return bld.header(slots=[(1, bld.oprf_slot(public_key_bytes=bytes(32)))]) + bld.payload()


@fail(
    "slot_public_key_noncanonical",
    "[F-PUBKEY]",
    "format error",
    "public_key FF...FF is not a canonical ristretto255 encoding",
)
def _(bld: b.Builder) -> bytes:
    return bld.header(slots=[(1, bld.oprf_slot(public_key_bytes=b"\xff" * 32))]) + bld.payload()


def _argon2_vector(
    name: str, params: tuple[int, int, int], comment: str, *, sealable: bool
) -> None:
    @fail(name, "[F-ARGON2]", "format error", comment)
    def _(bld: b.Builder) -> bytes:
        slot = bld.oprf_slot(argon2=params, sealable=sealable)
        return bld.header(slots=[(1, slot)]) + bld.payload()


_argon2_vector(
    "slot_argon2_m_low",
    (4096, 1, 1),
    "m = 4096 KiB, below 8192 (otherwise sealed correctly)",
    sealable=True,
)
_argon2_vector(
    "slot_argon2_m_high", (1048577, 1, 1), "m = 1048577 KiB, above 1 GiB", sealable=False
)
_argon2_vector("slot_argon2_m_max_u32", (0xFFFFFFFF, 1, 1), "m = 2^32-1 KiB", sealable=False)
_argon2_vector("slot_argon2_t_0", (8192, 0, 1), "t = 0", sealable=False)
_argon2_vector(
    "slot_argon2_t_11", (8192, 11, 1), "t = 11 (otherwise sealed correctly)", sealable=True
)
_argon2_vector("slot_argon2_t_max_u32", (8192, 0xFFFFFFFF, 1), "t = 2^32-1", sealable=False)
_argon2_vector("slot_argon2_p_0", (8192, 1, 0), "p = 0", sealable=False)
_argon2_vector(
    "slot_argon2_p_17", (8192, 1, 17), "p = 17 (otherwise sealed correctly)", sealable=True
)


# --- key release ----------------------------------------------------------------------------


@fail(
    "wrong_password",
    "[F-WRAP]",
    "wrong password",
    "sealed with another password than the one given",
)
def _(bld: b.Builder) -> bytes:
    given = bld.password
    bld.password = "Correct horse battery staple"  # noqa: S105 -- a vector password
    body = bld.build()
    bld.password = given
    return body


@fail(
    "wrong_password_empty",
    "[F-WRAP]",
    "wrong password",
    "sealed with a password; the reader gives none",
)
def _(bld: b.Builder) -> bytes:
    body = bld.build()
    bld.password = ""
    return body


@fail(
    "wrong_password_not_normalized",
    "[F-WRAP]",
    "wrong password",
    "sealed with 'caf\\u00e9'; the reader gives 'cafe\\u0301' (NFD): passwords are not normalized",
    password="cafe\u0301",  # noqa: S106 -- a vector password
)
def _(bld: b.Builder) -> bytes:
    bld.password = "caf\u00e9"  # noqa: S105 -- a vector password
    body = bld.build()
    bld.password = "cafe\u0301"  # noqa: S105
    return body


@fail(
    "slot_url_changed_after_sealing",
    "[F-WRAP]",
    "wrong password",
    "the URL (valid, same length) was changed after the keys were wrapped; header MAC "
    "recomputed, but the URL is in the wrap's AAD",
)
def _(bld: b.Builder) -> bytes:
    good = bld.oprf_slot()
    evil = good.replace(b"keys.city", b"keys.evil", 1)
    return bld.header(slots=[(1, evil)]) + bld.payload()


@fail(
    "slot_argon2_changed_after_sealing",
    "[F-WRAP]",
    "wrong password",
    "sealed with t = 2, the slot says t = 1 (in bounds): unwrap fails",
)
def _(bld: b.Builder) -> bytes:
    slot = bld.oprf_slot(argon2=(8192, 1, 1), seal_argon2=(8192, 2, 1))
    return bld.header(slots=[(1, slot)]) + bld.payload()


@fail(
    "slot_container_id_changed",
    "[F-WRAP]",
    "wrong password",
    "the container id was changed after sealing (the server key is the same): "
    "oprf_input, the salts and the AAD differ",
)
def _(bld: b.Builder) -> bytes:
    slot = bld.oprf_slot()
    u = len(bld.url)
    cid = bytes(x ^ 0xFF for x in bld.container_id)
    slot = slot[: 2 + u] + cid + slot[2 + u + 16 :]
    return bld.header(slots=[(1, slot)]) + bld.payload()


@fail(
    "slot_wrapped_bit_flipped", "[F-WRAP]", "wrong password", "one bit of the wrapped keys flipped"
)
def _(bld: b.Builder) -> bytes:
    slot = bytearray(bld.oprf_slot())
    slot[-1] ^= 0x01
    return bld.header(slots=[(1, bytes(slot))]) + bld.payload()


def _proof_vector() -> Vector:
    bld = b.Builder("proof_wrong_server_key", entries=list(SMALL))
    body = bld.build()
    other = b.Drbg("proof_wrong_server_key/other server")(32)
    return from_builder(
        bld,
        body,
        "key server error",
        "the server evaluates with another key than the header's public key: the proof "
        "fails (pycontainer: KeyServerProtocolError)",
        spec=["[F-PROOF]"],
        seed=other,
    )


VECTORS.append(_proof_vector)


# --- header MAC -----------------------------------------------------------------------------


@fail("header_mac_bit_flipped", "[F-MAC]", "header auth error", "last bit of the MAC flipped")
def _(bld: b.Builder) -> bytes:
    h = bytearray(bld.header())
    h[-1] ^= 0x01
    return bytes(h) + bld.payload()


@fail(
    "header_payload_nonce_changed",
    "[F-MAC]",
    "header auth error",
    "payload_nonce changed after the MAC (not in the wrap's AAD)",
)
def _(bld: b.Builder) -> bytes:
    h = bytearray(bld.header())
    h[17] ^= 0x80
    return bytes(h) + bld.payload()


@fail(
    "header_chunk_log2_changed",
    "[F-MAC]",
    "header auth error",
    "chunk_log2 changed from 12 to 13 after the MAC",
)
def _(bld: b.Builder) -> bytes:
    h = bytearray(bld.header())
    h[16] = 13
    return bytes(h) + bld.payload()


@fail(
    "header_unknown_slot_changed",
    "[F-MAC]",
    "header auth error",
    "the body of an unknown slot changed after the MAC",
)
def _(bld: b.Builder) -> bytes:
    h = bld.header(slots=[(1, bld.oprf_slot()), (0x7777, b"future slot")])
    return h.replace(b"future slot", b"future spot") + bld.payload()


@fail(
    "header_extension_added",
    "[F-MAC]",
    "header auth error",
    "a non-critical extension added after the MAC was computed without it",
)
def _(bld: b.Builder) -> bytes:
    mac = bld.header()[-32:]
    return bld.unsigned_header(exts=[(0x0042, 0, b"x")]) + mac + bld.payload()


@fail("header_mac_zero", "[F-MAC]", "header auth error", "MAC replaced by zeros")
def _(bld: b.Builder) -> bytes:
    return bld.unsigned_header() + bytes(32) + bld.payload()


# --- payload chunks -------------------------------------------------------------------------


def chunked(name: str, comment: str, rule: str = "[F-CHUNK-AUTH]") -> Callable[..., None]:
    """A vector made from the sealed chunk list of tree() (4 chunks of 4 KiB)."""

    def deco(fn: Callable[[b.Builder, list[bytes]], list[bytes] | bytes]) -> None:
        @fail(name, rule, "payload error", comment, entries=tree())
        def _(bld: b.Builder) -> bytes:
            chunks = bld.chunks(bld.plaintext())
            assert len(chunks) >= 3, len(chunks)
            out = fn(bld, chunks)
            return bld.header() + (out if isinstance(out, bytes) else b"".join(out))

    return deco


@fail("payload_empty", "[F-PAYLOAD-EMPTY]", "payload error", "a header and no payload")
def _(bld: b.Builder) -> bytes:
    return bld.header()


@chunked(
    "payload_final_chunk_10_bytes",
    "the final chunk cut to 10 bytes (inside a tag)",
    "[F-CHUNK-SHORT]",
)
def _(bld: b.Builder, chunks: list[bytes]) -> list[bytes]:
    return [*chunks[:-1], chunks[-1][:10]]


@chunked(
    "payload_final_chunk_16_bytes",
    "the final chunk cut to 16 bytes (a tag's length)",
    "[F-CHUNK-SHORT]",
)
def _(bld: b.Builder, chunks: list[bytes]) -> list[bytes]:
    return [*chunks[:-1], chunks[-1][:16]]


@fail(
    "payload_empty_final_chunk",
    "[F-CHUNK-SHORT]",
    "payload error",
    "plaintext of exactly 2 chunks sealed with last=0, then a valid empty final chunk "
    "(16-byte tag, last=1)",
)
def _(bld: b.Builder) -> bytes:
    n = 2 * C - (4 + 25 + len("two.bin") + 8)
    bld.entries = [b.Entry("two.bin", bytes(n))]
    p = bld.plaintext()
    assert len(p) == 2 * C
    chunks = [bld.seal_chunk(0, p[:C], last=False), bld.seal_chunk(1, p[C:], last=False)]
    return bld.header() + b"".join(chunks) + bld.seal_chunk(2, b"", last=True)


@chunked("payload_first_chunk_bit_flipped", "one bit flipped in chunk 0 (file data only)")
def _(bld: b.Builder, chunks: list[bytes]) -> list[bytes]:
    c0 = bytearray(chunks[0])
    c0[100] ^= 0x04
    return [bytes(c0), *chunks[1:]]


@chunked("payload_final_chunk_bit_flipped", "one bit flipped in the final chunk's tag")
def _(bld: b.Builder, chunks: list[bytes]) -> list[bytes]:
    last = bytearray(chunks[-1])
    last[-1] ^= 0x80
    return [*chunks[:-1], bytes(last)]


@chunked("payload_truncated_at_chunk_boundary", "the final chunk removed entirely")
def _(bld: b.Builder, chunks: list[bytes]) -> list[bytes]:
    return chunks[:-1]


@chunked("payload_truncated_mid_chunk", "the file ends in the middle of chunk 1")
def _(bld: b.Builder, chunks: list[bytes]) -> bytes:
    return b"".join(chunks)[: len(chunks[0]) + 2000]


@chunked("payload_truncated_one_byte", "the last byte of the file removed")
def _(bld: b.Builder, chunks: list[bytes]) -> bytes:
    return b"".join(chunks)[:-1]


@chunked("payload_chunk_dropped", "chunk 1 removed")
def _(bld: b.Builder, chunks: list[bytes]) -> list[bytes]:
    return [chunks[0], *chunks[2:]]


@chunked("payload_chunks_swapped", "chunks 0 and 1 swapped")
def _(bld: b.Builder, chunks: list[bytes]) -> list[bytes]:
    return [chunks[1], chunks[0], *chunks[2:]]


@chunked("payload_chunk_duplicated", "chunk 0 repeated")
def _(bld: b.Builder, chunks: list[bytes]) -> list[bytes]:
    return [chunks[0], *chunks]


@fail(
    "payload_chunk_appended",
    "[F-CHUNK-AUTH]",
    "payload error",
    "a full final chunk followed by an extra validly sealed chunk (index n, last=1)",
)
def _(bld: b.Builder) -> bytes:
    n = 2 * C - (4 + 25 + len("two.bin") + 8)
    bld.entries = [b.Entry("two.bin", bytes(n))]
    chunks = bld.chunks(bld.plaintext())
    assert len(chunks) == 2
    return bld.header() + b"".join(chunks) + bld.seal_chunk(2, b"extra", last=True)


@chunked("payload_all_chunks_not_last", "every chunk sealed with last=0 (no final chunk)")
def _(bld: b.Builder, chunks: list[bytes]) -> list[bytes]:
    p = bld.plaintext()
    return [bld.seal_chunk(i, p[i * C : (i + 1) * C], last=False) for i in range(len(chunks))]


@chunked("payload_early_last_flag", "chunk 0 sealed with last=1 although chunks follow")
def _(bld: b.Builder, chunks: list[bytes]) -> list[bytes]:
    return [bld.seal_chunk(0, bld.plaintext()[:C], last=True), *chunks[1:]]


@chunked("payload_from_other_container", "chunk 1 taken from a container with another DEK")
def _(bld: b.Builder, chunks: list[bytes]) -> list[bytes]:
    other = b.Builder(bld.name + "/other", entries=bld.entries)
    return [chunks[0], other.chunks(other.plaintext())[1], *chunks[2:]]


# --- trailer and index ----------------------------------------------------------------------


def sealed_plaintext(
    name: str, rule: str, comment: str, expect: str = "format error"
) -> Callable[..., None]:
    """A vector whose plaintext is built by fn(builder) and sealed correctly."""

    def deco(fn: Callable[[b.Builder], bytes]) -> None:
        @fail(name, rule, expect, comment)
        def _(bld: b.Builder) -> bytes:
            return bld.header() + bld.payload(fn(bld))

    return deco


@sealed_plaintext(
    "trailer_index_length_too_large",
    "[F-TRAILER]",
    "index_length = len(P) - 7: the index would overlap the trailer",
)
def _(bld: b.Builder) -> bytes:
    p = bld.plaintext()
    return bld.plaintext(index_length=len(p) - 7)


@sealed_plaintext("trailer_index_length_max_u64", "[F-TRAILER]", "index_length = 2^64-1")
def _(bld: b.Builder) -> bytes:
    return bld.plaintext(index_length=2**64 - 1)


@sealed_plaintext(
    "trailer_index_length_zero", "[F-TRAILER]", "index_length 0 (an index is at least 4 bytes)"
)
def _(bld: b.Builder) -> bytes:
    bld.entries = []
    return bld.plaintext(index=b"", index_length=0)


@sealed_plaintext(
    "trailer_index_length_short",
    "[F-TRAILER]",
    "index_length 3, and the 3 bytes hold an impossible index",
)
def _(bld: b.Builder) -> bytes:
    bld.entries = []
    return bld.plaintext(index=b"\x00\x00\x00", index_length=3)


@sealed_plaintext(
    "trailer_payload_too_short",
    "[F-TRAILER]",
    "the whole plaintext is 5 bytes: no room for a trailer",
)
def _(bld: b.Builder) -> bytes:
    return b"short"


@sealed_plaintext("index_entry_count_over_limit", "[F-INDEX-COUNT]", "entry_count 2^22 + 1")
def _(bld: b.Builder) -> bytes:
    return bld.plaintext(index=b.encode_index(bld.entries, count=2**22 + 1))


@sealed_plaintext("index_entry_count_too_high", "[F-INDEX-LENGTH]", "entry_count 2 but one entry")
def _(bld: b.Builder) -> bytes:
    return bld.plaintext(index=b.encode_index(bld.entries, count=2))


@sealed_plaintext(
    "index_trailing_byte", "[F-INDEX-LENGTH]", "one byte after the last entry, inside index_length"
)
def _(bld: b.Builder) -> bytes:
    return bld.plaintext(index=bld.index() + b"\x00")


@sealed_plaintext(
    "index_path_past_end", "[F-INDEX-LENGTH]", "path_length runs past the end of the index"
)
def _(bld: b.Builder) -> bytes:
    bld.entries = [b.Entry("a.txt", b"abc", path_length=900)]
    return bld.plaintext()


def _entry_vector(
    name: str, rule: str, comment: str, entries: list[b.Entry], expect: str = "format error"
) -> None:
    @sealed_plaintext(name, rule, comment, expect)
    def _(bld: b.Builder) -> bytes:
        bld.entries = entries
        return bld.plaintext()


_entry_vector("index_kind_0", "[F-ENTRY-KIND]", "kind 0", [b.Entry("a.txt", b"abc", kind=0)])
_entry_vector(
    "index_kind_3", "[F-ENTRY-KIND]", "kind 3 (say, a symlink)", [b.Entry("a.txt", b"abc", kind=3)]
)
_entry_vector(
    "index_mode_setuid",
    "[F-ENTRY-MODE]",
    "mode 0o4755 (setuid)",
    [b.Entry("a.sh", b"#!/bin/sh\n", mode=0o4755)],
)
_entry_vector(
    "index_mode_sticky",
    "[F-ENTRY-MODE]",
    "mode 0o1777 (sticky)",
    [b.Entry("tmp", kind=b.DIRECTORY, mode=0o1777)],
)
_entry_vector(
    "index_mode_type_bits",
    "[F-ENTRY-MODE]",
    "mode 0o100644 truncated to u16",
    [b.Entry("a.txt", b"abc", mode=0o100644 & 0xFFFF)],
)
_entry_vector(
    "index_mtime_ns_too_large",
    "[F-ENTRY-MTIME]",
    "mtime_ns = 10^9",
    [b.Entry("a.txt", b"abc", mtime_ns=10**9)],
)
_entry_vector(
    "index_path_length_0",
    "[F-ENTRY-PATH-LENGTH]",
    "path_length 0 (then a valid entry)",
    [b.Entry("", b"abc"), b.Entry("b.txt", b"def")],
)
_entry_vector(
    "index_path_length_4097",
    "[F-ENTRY-PATH-LENGTH]",
    "path_length 4097 (components of 255 bytes)",
    [b.Entry("/".join(["d" * 255] * 16) + "/" + "f" * 1, b"abc")],
)


@sealed_plaintext(
    "index_directory_with_size",
    "[F-DIR-SIZE]",
    "a directory entry with size 3; the data has the 3 bytes, so the sizes add up",
)
def _(bld: b.Builder) -> bytes:
    bld.entries = [b.Entry("a.txt", b"abc"), b.Entry("d", b"xyz", kind=b.DIRECTORY)]
    return bld.plaintext(data=b"abcxyz")


@sealed_plaintext(
    "index_sizes_too_small", "[F-DATA-SIZE]", "the file sizes add up to one byte less than the data"
)
def _(bld: b.Builder) -> bytes:
    bld.entries = [b.Entry("a.txt", b"abcd", size=3)]
    return bld.plaintext()


@sealed_plaintext(
    "index_sizes_too_large", "[F-DATA-SIZE]", "the file sizes add up to one byte more than the data"
)
def _(bld: b.Builder) -> bytes:
    bld.entries = [b.Entry("a.txt", b"abcd", size=5)]
    return bld.plaintext()


@sealed_plaintext(
    "index_sizes_wrap_u64",
    "[F-DATA-SIZE]",
    "sizes 2^64-1 and 5: their sum modulo 2^64 equals the data length 4",
)
def _(bld: b.Builder) -> bytes:
    bld.entries = [b.Entry("a.txt", b"ab", size=2**64 - 1), b.Entry("b.txt", b"cd", size=5)]
    return bld.plaintext()


# --- paths ----------------------------------------------------------------------------------


def _path_vector(name: str, rule: str, comment: str, *paths: str | bytes) -> None:
    entries = [b.Entry(p, f"content {i}\n".encode()) for i, p in enumerate(paths)]
    _entry_vector(name, rule, comment, entries, expect="unsafe path")


_path_vector("path_absolute", "[F-PATH-ABSOLUTE]", "/etc/passwd", "/etc/passwd")
_path_vector("path_dotdot", "[F-PATH-DOT]", "../escape.txt", "../escape.txt")
_path_vector("path_dotdot_inner", "[F-PATH-DOT]", "a/../../escape.txt", "a/../../escape.txt")
_path_vector("path_dot", "[F-PATH-DOT]", "./a.txt", "./a.txt")
_path_vector("path_empty_component", "[F-PATH-EMPTY-COMPONENT]", "a//b.txt", "a//b.txt")
_path_vector("path_trailing_slash", "[F-PATH-EMPTY-COMPONENT]", "a file 'dir/'", "dir/")
_path_vector("path_nul", "[F-PATH-NUL]", "a NUL byte: 'a.txt\\0.jpg'", "a.txt\x00.jpg")
_path_vector("path_backslash", "[F-PATH-BACKSLASH]", "'..\\\\evil.txt'", "..\\evil.txt")
_path_vector("path_control_newline", "[F-PATH-CONTROL]", "a line feed", "a\nb.txt")
_path_vector("path_control_del", "[F-PATH-CONTROL]", "DEL (U+007F)", "a\x7fb.txt")
_path_vector("path_control_c1", "[F-PATH-CONTROL]", "U+0085 (C1 NEXT LINE)", "a\u0085b.txt")
_path_vector("path_component_256", "[F-PATH-COMPONENT]", "a 256-byte component", "c" * 256)
_path_vector(
    "path_component_256_utf8",
    "[F-PATH-COMPONENT]",
    "86 three-byte characters: 258 bytes in one component",
    "名" * 86,
)
_path_vector("path_not_nfc", "[F-PATH-NFC]", "'cafe\\u0301.txt' (NFD)", "cafe\u0301.txt")
_path_vector("path_bad_utf8", "[F-PATH-UTF8]", "byte FF in a path", b"a\xffb.txt")
_path_vector(
    "path_surrogate", "[F-PATH-UTF8]", "an encoded surrogate (ED A0 80)", b"a\xed\xa0\x80.txt"
)
_path_vector("path_overlong_utf8", "[F-PATH-UTF8]", "an overlong '/' (C0 AF)", b"a\xc0\xafb.txt")
_path_vector("path_duplicate", "[F-PATH-DUPLICATE]", "two files named a.txt", "a.txt", "a.txt")
_path_vector(
    "path_casefold_collision", "[F-PATH-CASEFOLD]", "README and Readme", "README", "Readme"
)
_path_vector(
    "path_casefold_sharp_s",
    "[F-PATH-CASEFOLD]",
    "straße and STRASSE (full case folding)",
    "straße",
    "STRASSE",
)
_path_vector("path_file_parent", "[F-PATH-FILE-PARENT]", "a file 'a' and a file 'a/b'", "a", "a/b")
_path_vector(
    "path_file_parent_casefold", "[F-PATH-FILE-PARENT]", "a file 'A' and a file 'a/b'", "A", "a/b"
)


@sealed_plaintext(
    "path_duplicate_file_and_directory",
    "[F-PATH-DUPLICATE]",
    "a directory 'a' and a file 'a'",
    "unsafe path",
)
def _(bld: b.Builder) -> bytes:
    bld.entries = [b.Entry("a", kind=b.DIRECTORY), b.Entry("a", b"abc")]
    return bld.plaintext()


# --- vectors that pin the order of checks and the rules added for determinism ---------------


def fail2(
    name: str, rule: str, also: str, expect: str, comment: str, **kw: object
) -> Callable[[BuildFn], Callable[[], Vector]]:
    """A two-fault vector: ``rule`` decides the class, ``also`` is checked later (§reading)."""

    def deco(fn: BuildFn) -> Callable[[], Vector]:
        make = fail(name, rule, expect, comment, **kw)(fn)

        def with_also() -> Vector:
            v = make()
            v.also = [also]
            return v

        with_also.__name__ = name
        VECTORS[VECTORS.index(make)] = with_also
        return with_also

    return deco


@fail("header_magic_only", "[F-PREFIX]", "format error", "an 8-byte file: the magic alone")
def _(bld: b.Builder) -> bytes:
    return b.MAGIC


@fail2(
    "header_prefix_short_version_2",
    "[F-PREFIX]",
    "[F-VERSION]",
    "format error",
    "a 12-byte file: magic, version 2, two bytes of header_length; the prefix rule comes "
    "before the version is read",
)
def _(bld: b.Builder) -> bytes:
    return b.MAGIC + b"\x00\x02\x00\x00"


@fail2(
    "header_version_2_length_huge",
    "[F-VERSION]",
    "[F-HLEN-RANGE]",
    "unsupported version",
    "version 2 and header_length 2^32-1: the version decides (a newer version may change "
    "everything after it)",
)
def _(bld: b.Builder) -> bytes:
    return bld.header(version=2, header_length=0xFFFFFFFF) + bld.payload()


@fail2(
    "header_suite_2_truncated",
    "[F-HLEN-FILE]",
    "[F-SUITE]",
    "format error",
    "suite 2 and the file ends inside the header: the header is read before the suite",
)
def _(bld: b.Builder) -> bytes:
    return bld.header(suite=2)[:-10]


@fail2(
    "header_suite_2_chunk_log2_255",
    "[F-SUITE]",
    "[F-CHUNK-LOG2]",
    "unsupported version",
    "suite 2 and chunk_log2 255: the suite (offset 14) is checked before later fields",
)
def _(bld: b.Builder) -> bytes:
    return bld.header(suite=2, chunk_log2=255) + bld.payload()


@fail2(
    "header_suite_2_length_one_long",
    "[F-SUITE]",
    "[F-HLEN-MATCH]",
    "unsupported version",
    "suite 2 and a stray byte before the MAC: the suite is checked before any slot is parsed",
)
def _(bld: b.Builder) -> bytes:
    unsigned = bld.unsigned_header(suite=2, header_length_delta=1) + b"\x00"
    return bld.sign(unsigned) + bld.payload()


@fail2(
    "header_critical_ext_reserved_flag",
    "[F-EXT-FLAGS]",
    "[F-EXT-CRITICAL]",
    "format error",
    "an unknown critical extension, then an extension with flag bit 1: the structure is "
    "checked to its end before an extension is found unsupported",
)
def _(bld: b.Builder) -> bytes:
    exts = [(0x0042, 0x01, b"must understand"), (0x0043, 0x02, b"x")]
    return bld.header(exts=exts) + bld.payload()


@fail2(
    "header_critical_ext_length_one_long",
    "[F-HLEN-MATCH]",
    "[F-EXT-CRITICAL]",
    "format error",
    "an unknown critical extension and a stray byte before the MAC",
)
def _(bld: b.Builder) -> bytes:
    exts = [(0x0042, 0x01, b"must understand")]
    unsigned = bld.unsigned_header(exts=exts, header_length_delta=1) + b"\x00"
    return bld.sign(unsigned) + bld.payload()


@fail2(
    "header_critical_ext_bad_url",
    "[F-URL]",
    "[F-EXT-CRITICAL]",
    "format error",
    "an unknown critical extension and a slot URL with a query: slot rules come first",
    url=b"https://keys.city.amagasaki.example/?x=1",
)
def _(bld: b.Builder) -> bytes:
    return bld.header(exts=[(0x0042, 0x01, b"must understand")]) + bld.payload()


@fail2(
    "header_no_slot_reserved_flag",
    "[F-EXT-FLAGS]",
    "[F-NO-SLOT]",
    "format error",
    "only an unknown slot type, and an extension with flag bit 1",
)
def _(bld: b.Builder) -> bytes:
    return bld.header(slots=[(0x7777, b"future slot")], exts=[(0x0042, 0x02, b"x")])


@fail2(
    "header_no_slot_critical_ext_payload_empty",
    "[F-EXT-CRITICAL]",
    "[F-PAYLOAD-EMPTY]",
    "unsupported version",
    "an unknown critical extension and no payload: every header rule precedes the payload "
    "length rules",
)
def _(bld: b.Builder) -> bytes:
    return bld.header(exts=[(0x0042, 0x01, b"must understand")])


@fail(
    "header_ext_duplicate_type",
    "[F-EXT-DUPLICATE]",
    "format error",
    "two extensions of type 0x0042",
)
def _(bld: b.Builder) -> bytes:
    return bld.header(exts=[(0x0042, 0x00, b"one"), (0x0042, 0x00, b"two")]) + bld.payload()


@fail2(
    "header_ext_duplicate_critical",
    "[F-EXT-DUPLICATE]",
    "[F-EXT-CRITICAL]",
    "format error",
    "type 0x0042 twice, the second critical",
)
def _(bld: b.Builder) -> bytes:
    return bld.header(exts=[(0x0042, 0x00, b"one"), (0x0042, 0x01, b"two")]) + bld.payload()


@fail2(
    "slot_argon2_t_0_payload_empty",
    "[F-ARGON2]",
    "[F-PAYLOAD-EMPTY]",
    "format error",
    "Argon2 t = 0 and no payload",
)
def _(bld: b.Builder) -> bytes:
    return bld.header(slots=[(1, bld.oprf_slot(argon2=(8192, 0, 1), sealable=False))])


@fail2(
    "payload_empty_wrong_password",
    "[F-PAYLOAD-EMPTY]",
    "[F-WRAP]",
    "payload error",
    "no payload, and the reader gives a wrong password: a truncated copy is refused before "
    "the key server is asked (no attempt spent)",
    password="not the password",  # noqa: S106 -- a vector password
)
def _(bld: b.Builder) -> bytes:
    bld.password = b.DEFAULT_PASSWORD
    body = bld.header()
    bld.password = "not the password"  # noqa: S105 -- a vector password
    return body


@fail2(
    "payload_final_chunk_10_bytes_wrong_password",
    "[F-CHUNK-SHORT]",
    "[F-WRAP]",
    "payload error",
    "the final chunk cut to 10 bytes and a wrong password: [F-CHUNK-SHORT] is part of step 1",
    password="not the password",  # noqa: S106 -- a vector password
    entries=tree(),
)
def _(bld: b.Builder) -> bytes:
    bld.password = b.DEFAULT_PASSWORD
    chunks = bld.chunks(bld.plaintext())
    body = bld.header() + b"".join(chunks[:-1]) + chunks[-1][:10]
    bld.password = "not the password"  # noqa: S105 -- a vector password
    return body


@fail2(
    "wrong_password_mac_bad",
    "[F-WRAP]",
    "[F-MAC]",
    "wrong password",
    "a wrong password and a flipped MAC bit: the unwrap comes before the MAC",
    password="not the password",  # noqa: S106 -- a vector password
)
def _(bld: b.Builder) -> bytes:
    bld.password = b.DEFAULT_PASSWORD
    h = bytearray(bld.header())
    h[-1] ^= 0x01
    body = bytes(h) + bld.payload()
    bld.password = "not the password"  # noqa: S105 -- a vector password
    return body


@fail2(
    "header_mac_bad_chunk_bad",
    "[F-MAC]",
    "[F-CHUNK-AUTH]",
    "header auth error",
    "a flipped MAC bit and a flipped bit in the final chunk",
)
def _(bld: b.Builder) -> bytes:
    h = bytearray(bld.header())
    h[-1] ^= 0x01
    body = bytearray(bld.payload())
    body[-1] ^= 0x01
    return bytes(h) + bytes(body)


def _long_password_vector(name: str, expect: str, comment: str, *, size: int) -> None:
    def make() -> Vector:
        bld = b.Builder(name, entries=list(SMALL))
        password = "x" * size
        if expect == "success":
            bld.password = password
            return from_builder(bld, bld.build(), "success", comment)
        body = bld.build()
        return from_builder(
            bld, body, expect, comment, spec=["[F-PASSWORD-LENGTH]"], password=password
        )

    make.__name__ = name
    VECTORS.append(make)


_long_password_vector(
    "ok_password_65502_bytes",
    "success",
    "the longest password: 65502 bytes, so oprf_input is 2^16 - 1 bytes",
    size=65502,
)
_long_password_vector(
    "password_65503_bytes",
    "input error",
    "a password of 65503 bytes: refused before the key server is asked",
    size=65503,
)


def _element_vector(name: str, element: bytes, comment: str) -> None:
    def make() -> Vector:
        bld = b.Builder(name, entries=list(SMALL))
        v = from_builder(bld, bld.build(), "key server error", comment, spec=["[F-EVALUATED]"])
        v.evaluated_element = element
        return v

    make.__name__ = name
    VECTORS.append(make)


_element_vector(
    "server_element_identity",
    bytes(32),
    "the server answers with the identity element (its proof is for the real element)",
)
_element_vector(
    "server_element_noncanonical",
    b"\xff" * 32,
    "the server answers with FF..FF, not a canonical ristretto255 encoding",
)


@fail(
    "slot_first_wrong_second_right",
    "[F-WRAP]",
    "wrong password",
    "two server-oprf slots: the first was wrapped for another password, the second for the "
    "given one; a reader uses the first slot only",
)
def _(bld: b.Builder) -> bytes:
    given = bld.password
    bld.password = "another password"  # noqa: S105 -- a vector password
    first = bld.oprf_slot()
    bld.password = given
    return bld.header(slots=[(1, first), (1, bld.oprf_slot())]) + bld.payload()


@fail(
    "slot_first_proof_fails",
    "[F-PROOF]",
    "key server error",
    "two server-oprf slots: the first names another server key (the server's proof fails "
    "against it), the second would work; a failing slot ends the open",
)
def _(bld: b.Builder) -> bytes:
    other = b.public_key(b.Drbg("slot_first_proof_fails/other")(32))
    first = bld.oprf_slot(public_key_bytes=other, sealable=False)
    return bld.header(slots=[(1, first), (1, bld.oprf_slot())]) + bld.payload()


_url_vector("slot_url_query", b"https://keys.city.amagasaki.example/v?x=1", "a query")
_url_vector("slot_url_fragment", b"https://keys.city.amagasaki.example/#top", "a fragment")
_url_vector("slot_url_bad_percent", b"https://keys.city.amagasaki.example/%zz", "'%zz'")
_url_vector("slot_url_short_percent", b"https://keys.city.amagasaki.example/%4", "'%4' at the end")
_url_vector(
    "slot_url_percent_host", b"https://keys%2ecity.amagasaki.example/", "a percent-encoded host"
)
_url_vector("slot_url_port_leading_zero", b"https://keys.city.amagasaki.example:0443/", "port 0443")
_url_vector("slot_url_port_0", b"https://keys.city.amagasaki.example:0/", "port 0")
_url_vector("slot_url_port_empty", b"https://keys.city.amagasaki.example:/", "an empty port")
_url_vector(
    "slot_url_localhost_dot", b"http://localhost./", "http:// to 'localhost.' (trailing dot)"
)
_url_vector("slot_url_dns_trailing_dot", b"https://keys.city.amagasaki.example./", "a trailing dot")
_url_vector("slot_url_zone_id", b"https://[fe80::1%25eth0]/", "an IPv6 zone id")
_url_vector(
    "slot_url_non_ascii", "https://尼崎.example/".encode(), "a non-ASCII host (not punycode)"
)
_url_vector("slot_url_c1_control", "https://keys.example/\u0085".encode(), "U+0085 (C1)")
_url_vector("slot_url_outside_rfc3986", b"https://keys.city.amagasaki.example/a|b", "'|'")
_url_vector("slot_url_hex_ipv4", b"https://0x7f.0.0.1/", "a hexadecimal IPv4-like host")
_url_vector("slot_url_short_ipv4_https", b"https://127.1/", "https:// to '127.1'")
_url_vector("slot_url_underscore_host", b"https://keys_city.example/", "'_' in a host name")
_url_vector("slot_url_tab", b"https://keys.city.amagasaki.example/\t", "a tab")


@ok(
    "ok_url_ipv6_loopback_long",
    "http:// to [0:0:0:0:0:0:0:1], another spelling of ::1",
    url=b"http://[0:0:0:0:0:0:0:1]:8443/",
)
def _(bld: b.Builder) -> bytes:
    return bld.build()


@ok(
    "ok_url_percent_path",
    "percent escapes and sub-delims in the path",
    url=b"https://keys.city.amagasaki.example/r%C3%BCck;v=1/",
)
def _(bld: b.Builder) -> bytes:
    return bld.build()


@ok(
    "ok_names_close_to_windows_rules",
    "names that look like Windows device names but are not: CONSOLE, com10, nul_x, .hidden, "
    "a leading space",
)
def _(bld: b.Builder) -> bytes:
    names = ["CONSOLE.txt", "com10.log", "nul_x", ".hidden", " lead.txt", "a.b.c"]
    bld.entries = [b.Entry(n, f"{n}\n".encode()) for n in names]
    return bld.build()


_path_vector(
    "path_format_rlo", "[F-PATH-FORMAT]", "U+202E RIGHT-TO-LEFT OVERRIDE", "invoice\u202etxt.exe"
)
_path_vector("path_format_zwsp", "[F-PATH-FORMAT]", "U+200B ZERO WIDTH SPACE", "a\u200bb.txt")
_path_vector("path_format_bom", "[F-PATH-FORMAT]", "U+FEFF (BOM) at the start", "\ufeffa.txt")
_path_vector("path_line_separator", "[F-PATH-FORMAT]", "U+2028 LINE SEPARATOR (Zl)", "a\u2028b.txt")
_path_vector("path_paragraph_separator", "[F-PATH-FORMAT]", "U+2029 (Zp)", "a\u2029b.txt")
_path_vector("path_unassigned", "[F-PATH-UNASSIGNED]", "U+0378 (never assigned)", "a\u0378.txt")
_path_vector(
    "path_unassigned_in_14",
    "[F-PATH-UNASSIGNED]",
    "U+1E030 (assigned in Unicode 15.0, after the pinned 14.0)",
    "a\U0001e030.txt",
)
_path_vector(
    "path_casefold_dotless_i",
    "[F-PATH-CASEFOLD]",
    "'f\\u0131le.txt' (dotless i) and 'FILE.txt': Windows upper-cases both to FILE.TXT",
    "f\u0131le.txt",
    "FILE.txt",
)
_path_vector("path_windows_con", "[F-PATH-WINDOWS-NAME]", "'CON'", "CON")
_path_vector("path_windows_nul_ext", "[F-PATH-WINDOWS-NAME]", "'nul.txt'", "nul.txt")
_path_vector(
    "path_windows_com_superscript", "[F-PATH-WINDOWS-NAME]", "'COM\u00b9.log'", "COM\u00b9.log"
)
_path_vector("path_windows_lpt_space", "[F-PATH-WINDOWS-NAME]", "'LPT1 .txt'", "LPT1 .txt")
_path_vector(
    "path_windows_device_dir", "[F-PATH-WINDOWS-NAME]", "'aux/readme.txt'", "aux/readme.txt"
)
_path_vector("path_trailing_dot", "[F-PATH-WINDOWS-NAME]", "'notes.'", "notes.")
_path_vector("path_trailing_space", "[F-PATH-WINDOWS-NAME]", "'notes '", "dir/notes ")
_path_vector("path_windows_colon", "[F-PATH-WINDOWS-CHAR]", "'a:b.txt' (an NTFS stream)", "a:b.txt")
_path_vector("path_windows_question", "[F-PATH-WINDOWS-CHAR]", "'why?.txt'", "why?.txt")
_path_vector("path_windows_quote", "[F-PATH-WINDOWS-CHAR]", "'say \"hi\".txt'", 'say "hi".txt')


def _two_fault_index(name: str, rule: str, also: str, comment: str, entries: list[b.Entry]) -> None:
    @fail2(name, rule, also, "format error", comment)
    def _(bld: b.Builder) -> bytes:
        bld.entries = entries
        return bld.header() + bld.payload(bld.plaintext())


_two_fault_index(
    "index_bad_path_then_bad_kind",
    "[F-ENTRY-KIND]",
    "[F-PATH-DOT]",
    "entry 0 is '../x', entry 1 has kind 0: index rules come before path rules",
    [b.Entry("../x", b"a"), b.Entry("b.txt", b"b", kind=0)],
)
_two_fault_index(
    "index_bad_utf8_then_setuid",
    "[F-ENTRY-MODE]",
    "[F-PATH-UTF8]",
    "entry 0's path is not UTF-8, entry 1 is setuid",
    [b.Entry(b"a\xffb", b"a"), b.Entry("b.sh", b"b", mode=0o4755)],
)


@fail2(
    "index_sizes_wrong_bad_path",
    "[F-DATA-SIZE]",
    "[F-PATH-DOT]",
    "format error",
    "a file '../x' whose size is one byte short of the data",
)
def _(bld: b.Builder) -> bytes:
    bld.entries = [b.Entry("../x", b"abcd", size=3)]
    return bld.header() + bld.payload(bld.plaintext())


# --- protocol.md vectors: receipt MAC and audit chain (spec/vectors/protocol/) --------------


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def receipt_vectors() -> dict[str, object]:
    """protocol.md §receipt: receipt_key and mac from receipt_secret, container_id, challenge."""
    rng = b.Drbg("protocol/receipt")
    cases = []
    for name in ("random", "second challenge", "all-zero challenge"):
        secret, cid = rng(32), rng(16)
        challenge = bytes(32) if name == "all-zero challenge" else rng(32)
        key = b.hkdf(secret, cid, b.LABEL_RECEIPT_KEY)
        mac = _hmac(key, b"rwc/v1 receipt" + cid + challenge)
        cases.append(
            {
                "comment": name,
                "receipt_secret": secret.hex(),
                "container_id": cid.hex(),
                "challenge": challenge.hex(),
                "receipt_key": key.hex(),
                "mac": mac.hex(),
            }
        )
    return {
        "comment": "protocol.md §receipt: receipt_key = HKDF-SHA-256(receipt_secret, "
        "salt = container_id, info = 'rwc/v1 receipt key'); mac = HMAC-SHA-256(receipt_key, "
        "'rwc/v1 receipt' || container_id || challenge); all values hex",
        "cases": cases,
    }


def _canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def audit_chain_vectors() -> dict[str, object]:
    """protocol.md §audit: hash = HMAC(audit_key, prev_hash || canonical_json(entry))."""
    master = b.Drbg("protocol/audit")(32)
    audit_key = b.hkdf(master, b"", b"rwc/v1 keyserver audit")
    entries: list[dict[str, object]] = [
        {
            "seq": 1,
            "at": "2026-11-26T09:00:00.000000Z",
            "actor": "writer@contractor.example",
            "action": "register",
            "container": "AAECAwQFBgcICQoLDA0ODw",
            "outcome": "ok",
            "remote": "192.0.2.7",
            "details": {"label": "2022 給付金 export", "medium": "USB-0001"},
        },
        {
            "seq": 2,
            "at": "2026-11-26T09:05:00.123456Z",
            "actor": "担当者@city.example",
            "action": "evaluate",
            "container": "AAECAwQFBgcICQoLDA0ODw",
            "outcome": "refused",
            "remote": "2001:db8::7",
            "details": {"reason": "header-mismatch", "mode": "read"},
        },
        {
            "seq": 3,
            "at": "2026-11-26T09:06:00.000001Z",
            "actor": "(unauthenticated)",
            "action": "evaluate",
            "container": None,
            "outcome": "refused",
            "remote": None,
            "details": {"reason": "unauthenticated", "z": [1, 2.5, True, None], "a": "\u00e9\n"},
        },
    ]
    prev = bytes(32)
    out = []
    for entry in entries:
        text = _canonical_json(entry)
        digest = _hmac(audit_key, prev + text.encode("utf-8"))
        out.append(
            {"entry": entry, "canonical_json": text, "prev_hash": prev.hex(), "hash": digest.hex()}
        )
        prev = digest
    return {
        "comment": "protocol.md §audit and §keys-at-rest: audit_key = HKDF-SHA-256(master_key, "
        "salt = none, info = 'rwc/v1 keyserver audit'); hash = HMAC-SHA-256(audit_key, "
        "prev_hash || UTF-8(canonical_json(entry))), canonical_json = json.dumps(entry, "
        "sort_keys=True, separators=(',', ':'), ensure_ascii=False); prev_hash of seq 1 is "
        "32 zero bytes; keys and hashes hex",
        "master_key": master.hex(),
        "audit_key": audit_key.hex(),
        "entries": out,
    }


def row_mac_vectors() -> dict[str, object]:
    """protocol.md §row-integrity: row_mac = HMAC(row_key, encode(row)), written out here."""
    master = b.Drbg("protocol/row-mac")(32)
    row_key = b.hkdf(master, b"", b"rwc/v1 keyserver row-mac")
    rng = b.Drbg("protocol/row-mac/rows")
    # (name, kind, value); times as microseconds since the epoch (the encoding's integer).
    active: list[tuple[str, str, object]] = [
        ("id", "bytes", bytes(range(16))),
        ("state", "text", "active"),
        ("issuer_id", "int", 7),
        ("medium", "text", "USB-0001 総務課"),
        ("seed_sealed", "bytes", rng(60)),
        ("receipt_key_sealed", "bytes", rng(60)),
        ("header_digest", "bytes", rng(32)),
        ("password_required", "int", 1),
        ("attempt_budget", "int", 10),
        ("unconfirmed", "int", 3),
        ("pending_expires_at", "time", None),
        ("not_after", "time", 1_798_761_600_000_000),
        ("destroyed_at", "time", None),
        ("destroy_after", "time", None),
        ("suspend_cause", "text", None),
        ("budget_reset_at", "time", None),
        ("last_audit_seq", "int", 2_147_483_650),
    ]
    destroyed = [
        (n, k, v)
        for n, k, v in active
        if n not in {"state", "seed_sealed", "receipt_key_sealed", "destroyed_at"}
    ]
    destroyed += [
        ("state", "text", "destroyed"),
        ("seed_sealed", "bytes", None),
        ("receipt_key_sealed", "bytes", None),
        ("destroyed_at", "time", 1_764_147_600_123_456),
    ]
    order = [n for n, _, _ in active]
    destroyed.sort(key=lambda f: order.index(f[0]))

    def encode(fields: list[tuple[str, str, object]]) -> bytes:
        out = bytearray(b"rwc/v1 container row\x00")
        for _, kind, value in fields:
            if value is None:
                out += b"\x00"
                continue
            if kind == "bytes":
                raw = bytes(value)  # type: ignore[arg-type]
            elif kind == "text":
                raw = str(value).encode("utf-8")
            else:
                raw = int(value).to_bytes(8, "big", signed=True)  # type: ignore[call-overload]
            out += b"\x01" + len(raw).to_bytes(4, "big") + raw
        return bytes(out)

    def show(value: object) -> object:
        return value.hex() if isinstance(value, bytes) else value

    rows = []
    for fields in (active, destroyed):
        data = encode(fields)
        rows.append(
            {
                "fields": [{"name": n, "kind": k, "value": show(v)} for n, k, v in fields],
                "encoded": data.hex(),
                "row_mac": _hmac(row_key, data).hex(),
            }
        )
    return {
        "comment": "protocol.md §row-integrity: row_key = HKDF-SHA-256(master_key, salt = none, "
        "info = 'rwc/v1 keyserver row-mac'); encoded = 'rwc/v1 container row' || 0x00 || per "
        "field in order: 0x00 if NULL, else 0x01 || u32be(len) || value (bytes as is, text "
        "UTF-8, int and time as signed 64-bit big-endian, time in microseconds since "
        "1970-01-01T00:00:00Z); row_mac = HMAC-SHA-256(row_key, encoded); bytes hex",
        "master_key": master.hex(),
        "row_key": row_key.hex(),
        "rows": rows,
    }


PROTOCOL_VECTORS = {
    "receipt_mac.json": receipt_vectors,
    "audit_chain.json": audit_chain_vectors,
    "row_mac.json": row_mac_vectors,
}


def generate_protocol(out: Path) -> list[str]:
    """Write the protocol.md vectors into ``out/protocol``; return their names."""
    folder = out / "protocol"
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in PROTOCOL_VECTORS.items():
        text = json.dumps(make(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        (folder / name).write_text(text, encoding="utf-8")
    return sorted(PROTOCOL_VECTORS)


# --- driver ---------------------------------------------------------------------------------


def generate(out: Path) -> list[str]:
    """Write every vector into ``out``; return their names."""
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for make in VECTORS:
        v = make()
        assert v.name not in names, f"duplicate vector {v.name}"
        names.append(v.name)
        (out / v.name).write_bytes(v.encode())
    generate_protocol(out)
    # Remove vectors that are no longer generated (never README.md or the scripts).
    for stale in out.iterdir():
        if stale.is_file() and stale.name not in NOT_VECTORS and stale.name not in names:
            stale.unlink()
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="directory (default: spec/vectors)")
    args = parser.parse_args(argv)
    names = generate(args.out)
    total = sum((args.out / n).stat().st_size for n in names)
    print(f"wrote {len(names)} vectors ({total} bytes) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
