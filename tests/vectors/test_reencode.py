"""An age-style round trip: every positive vector, decoded and re-encoded, gives its bytes.

For each ``success`` vector the header is decoded and encoded again, the payload is
decrypted chunk by chunk (keys derived from the vector's server seed and password) and
sealed again under the same key and counters, and the index is decoded and encoded again;
each must reproduce the committed bytes exactly. A codec that accepted two encodings of
one value, or lost a field, would differ here (spec §rationale: one encoding per field).
"""

from __future__ import annotations

from typing import Any

from pycontainer.format import archive, keyschedule, oprf
from pycontainer.format import header as hdr
from pycontainer.format import primitives as p
from pycontainer.format.stream import Layout, StreamCipher


def _payload_key(v: Any, header: hdr.Header) -> bytes:
    slot = header.oprf_slots()[0]
    state, blinded = oprf.blind(keyschedule.oprf_input(slot.container_id, v.one("password")))
    element, proof = oprf.Evaluator(bytes.fromhex(v.one("server seed"))).evaluate(blinded)
    oprf_out = oprf.finalize(state, element, proof, slot.public_key)
    kek = keyschedule.derive_kek(oprf_out, slot.container_id, slot.argon2)
    dek, _ = keyschedule.unwrap(kek, slot.wrap_nonce, slot.wrapped, slot.aad())
    return keyschedule.payload_key(dek, header.payload_nonce)


def test_positive_vectors_reencode_byte_for_byte(all_vectors: list[Any]) -> None:
    checked = 0
    for v in all_vectors:
        if v.one("expect") != "success":
            continue
        body = v.body
        length = hdr.header_length(body[: p.PREFIX_SIZE])
        raw_header, payload = body[:length], body[length:]
        header = hdr.decode_header(raw_header)
        assert hdr.encode_header(header) == raw_header, v.name

        cipher = StreamCipher(_payload_key(v, header))
        layout = Layout(header.chunk_log2, len(payload))
        last = layout.chunk_count - 1
        plain = []
        for i in range(layout.chunk_count):
            start, size = layout.span(i)
            plain.append(cipher.decrypt(i, i == last, payload[start : start + size]))
        resealed = b"".join(cipher.encrypt(i, i == last, c) for i, c in enumerate(plain))
        assert resealed == payload, v.name

        plaintext = b"".join(plain)
        index_length = archive.decode_trailer(plaintext[-p.TRAILER_SIZE :])
        index = plaintext[-p.TRAILER_SIZE - index_length : -p.TRAILER_SIZE]
        entries = archive.decode_index(index, data_length=len(plaintext) - len(index) - 8)
        assert archive.encode_index(entries) == index, v.name
        assert archive.encode_trailer(len(index)) == plaintext[-p.TRAILER_SIZE :]
        checked += 1
    assert checked >= 25
