"""Header codec: round trips, canonical form, and decoding arbitrary or mutated bytes only
ever raises FormatError (hypothesis property tests plus a bounded mutation fuzz)."""

from __future__ import annotations

import contextlib
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pycontainer.errors import ContainerError, FormatError, UnsupportedVersionError
from pycontainer.format import header as hdr
from pycontainer.format import oprf
from pycontainer.format import primitives as p
from pycontainer.reader import ReaderLimits

if TYPE_CHECKING:
    from tests.support.container import Kit

urls = st.sampled_from(
    [
        "https://ks.example/",
        "https://ks.city.amagasaki.example:8443/rwc",
        "http://127.0.0.1:8080",
        "http://[::1]",
        "http://localhost/x",
        "https://xn--mlut-loa5a.example/p%C3%A4th",
    ]
)
# Valid ristretto255 encodings: a header with another public key fails [F-PUBKEY].
_KEYS = [oprf.Evaluator(bytes([i]) * 32).public_key for i in range(1, 5)]
argon2s = st.builds(
    p.Argon2Params,
    m=st.integers(p.ARGON2_M_MIN, p.ARGON2_M_MAX),
    t=st.integers(p.ARGON2_T_MIN, p.ARGON2_T_MAX),
    p=st.integers(p.ARGON2_P_MIN, p.ARGON2_P_MAX),
)
oprf_slots = st.builds(
    hdr.OprfSlot,
    url=urls,
    container_id=st.binary(min_size=16, max_size=16),
    public_key=st.sampled_from(_KEYS),
    argon2=argon2s,
    wrap_nonce=st.binary(min_size=12, max_size=12),
    wrapped=st.binary(min_size=80, max_size=80),
)
unknown_slots = st.builds(
    hdr.UnknownSlot,
    slot_type=st.integers(2, 0xFFFF),
    body=st.binary(max_size=300),
)
extensions = st.builds(
    hdr.Extension,
    ext_type=st.integers(0, 0xFFFF),
    critical=st.just(False),
    body=st.binary(max_size=200),
)
headers = st.builds(
    hdr.Header,
    chunk_log2=st.integers(p.CHUNK_LOG2_MIN, p.CHUNK_LOG2_MAX),
    payload_nonce=st.binary(min_size=16, max_size=16),
    slots=st.lists(st.one_of(oprf_slots, unknown_slots), min_size=1, max_size=8)
    .filter(lambda ss: any(isinstance(x, hdr.OprfSlot) for x in ss))
    .map(tuple),
    extensions=st.lists(extensions, max_size=16, unique_by=lambda e: e.ext_type).map(tuple),
    mac=st.binary(min_size=32, max_size=32),
    # Named: st.builds fills a NamedTuple's defaulted fields with any value it likes.
    version=st.just(p.VERSION),
    suite=st.just(p.SUITE_V1),
)


@given(headers)
@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
def test_roundtrip_and_canonical(h: hdr.Header) -> None:
    data = hdr.encode_header(h)
    assert hdr.header_length(data) == len(data)
    back = hdr.decode_header(data)
    assert back == h
    assert hdr.encode_header(back) == data


@given(st.binary(max_size=2000))
@settings(max_examples=300)
def test_arbitrary_bytes_only_raise_format_errors(data: bytes) -> None:
    with contextlib.suppress(FormatError):
        hdr.decode_header(data)


@given(headers, st.data())
@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_headers_only_raise_format_errors(h: hdr.Header, data: st.DataObject) -> None:
    raw = bytearray(hdr.encode_header(h))
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    try:
        back = hdr.decode_header(bytes(raw))
    except FormatError:
        return
    assert hdr.encode_header(back) == bytes(raw)  # whatever decodes is canonical


def _valid_header() -> hdr.Header:
    slot = hdr.OprfSlot(
        "https://ks.example/", b"\1" * 16, b"\2" * 32, p.Argon2Params(), b"\3" * 12, b"\4" * 80
    )
    return hdr.Header(20, b"\5" * 16, (slot,), mac=b"\6" * 32)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", 2),
        ("suite", 2),
    ],
)
def test_unsupported_version_and_suite(field: str, value: int) -> None:
    raw = bytearray(hdr.encode_header(_valid_header()))
    offset = {"version": 8, "suite": 14}[field]
    raw[offset : offset + 2] = value.to_bytes(2, "big")
    with pytest.raises(UnsupportedVersionError):
        hdr.decode_header(bytes(raw))
    with pytest.raises(UnsupportedVersionError):
        changes: dict[str, Any] = {field: value}
        hdr.encode_header(_valid_header()._replace(**changes))


def test_critical_unknown_extension_refused_noncritical_ignored() -> None:
    h = _valid_header()
    ok = h._replace(extensions=(hdr.Extension(9, False, b"x"),))
    assert hdr.decode_header(hdr.encode_header(ok)).extensions[0].body == b"x"
    raw = bytearray(hdr.encode_header(ok))
    flags_at = len(raw) - 32 - 1 - 2 - 1  # ... type u16 | flags u8 | length u16 | body(1) | mac
    assert raw[flags_at] == 0
    raw[flags_at] = 1
    with pytest.raises(UnsupportedVersionError, match="extension 9"):
        hdr.decode_header(bytes(raw))
    raw[flags_at] = 2  # reserved flag bit
    with pytest.raises(FormatError, match="reserved"):
        hdr.decode_header(bytes(raw))


@pytest.mark.parametrize(
    "url",
    [
        "http://ks.example/",  # plain http to a remote host
        "ftp://127.0.0.1/",
        "https://user:pw@ks.example/",
        "https:///nohost",
        "https://ks.example/\n",
        "https://ks example/",
        "",
        "https://" + "a" * 2048,
        "https://ks.example:99999/",
    ],
)
def test_url_rules(url: str) -> None:
    with pytest.raises(FormatError):
        hdr.check_url(url)


def test_bounds_checked_before_reading() -> None:
    raw = bytearray(hdr.encode_header(_valid_header()))
    for length in (0, 63, 65537, 2**32 - 1):
        raw[10:14] = length.to_bytes(4, "big")
        with pytest.raises(FormatError, match="length"):
            hdr.header_length(bytes(raw))
    with pytest.raises(FormatError, match="not an rwc container"):
        hdr.header_length(b"PK\x03\x04" + bytes(20))


def test_bounded_container_fuzz(kit: Kit, tmp_path: Path) -> None:
    """Random mutations of a real container: only library errors, never anything else."""
    f = tmp_path / "f"
    f.write_bytes(b"hello fuzz" * 50)
    good = tmp_path / "good.rwc"
    kit.seal([f], good)
    blob = good.read_bytes()
    rnd = random.Random(20221128)
    bad = tmp_path / "bad.rwc"
    limits = ReaderLimits(max_argon2_m=kit.FAST.m)
    for _ in range(150):
        raw = bytearray(blob)
        op = rnd.randrange(4)
        if op == 0:
            for _ in range(rnd.randrange(1, 6)):
                raw[rnd.randrange(len(raw))] = rnd.randrange(256)
        elif op == 1:
            del raw[rnd.randrange(len(raw)) :]
        elif op == 2:
            i = rnd.randrange(len(raw))
            raw[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 40)))
        else:
            i, j = sorted(rnd.randrange(len(raw)) for _ in range(2))
            del raw[i:j]
        bad.write_bytes(bytes(raw))
        if bytes(raw) == blob:
            continue
        with pytest.raises(ContainerError), kit.open(bad, limits=limits, workers=1) as c:
            c.verify()


@pytest.mark.parametrize(
    "other",
    [
        hdr.UnknownSlot(slot_type=0x10000, body=b""),  # a type the u16 field cannot hold
        hdr.UnknownSlot(slot_type=2, body=bytes(0x10000)),  # a body its u16 length cannot
    ],
)
def test_a_field_too_large_for_its_bytes_is_a_format_error(other: hdr.UnknownSlot) -> None:
    # The writer's own API promises FormatError for any header it cannot encode (the
    # codec once let construct's own error through for the type).
    h = _valid_header()
    with pytest.raises(FormatError, match=r"does not fit|too long"):
        hdr.encode_unsigned(h._replace(slots=(*h.slots, other)))
