"""Every label, size, bound and default of container format v1, in one place.

Nothing else in pycontainer spells a number or a label of the format: the codec, the key
schedule and the STREAM layer import them from here, so spec/format.md and the code can be
compared line by line.

Spec anchors: spec/format.md §header, §slot-server-oprf, §key-schedule, §payload, §index.
"""

from typing import Final

from pycontainer._record import Record

# spec §header: fixed prefix.
MAGIC: Final = b"\x89RWC\r\n\x1a\n"
VERSION: Final = 1
SUITE_V1: Final = 1  # AES-256-GCM STREAM / HKDF-SHA-256 / VOPRF ristretto255-SHA512 / Argon2id
PREFIX_SIZE: Final = 8 + 2 + 4  # magic, version, header_length
HEADER_MIN: Final = 64
HEADER_MAX: Final = 65536
CHUNK_LOG2_MIN: Final = 12
CHUNK_LOG2_MAX: Final = 24
CHUNK_LOG2_DEFAULT: Final = 20  # 1 MiB chunks; see bench/ for the measurement.
PAYLOAD_NONCE_SIZE: Final = 16
SLOT_COUNT_MIN: Final = 1
SLOT_COUNT_MAX: Final = 8
EXT_COUNT_MAX: Final = 16
EXT_FLAG_CRITICAL: Final = 0x01
MAC_SIZE: Final = 32

# spec §slot-server-oprf.
SLOT_TYPE_SERVER_OPRF: Final = 1
URL_MIN: Final = 1
URL_MAX: Final = 2048
CONTAINER_ID_SIZE: Final = 16
PUBLIC_KEY_SIZE: Final = 32
ARGON2_M_MIN: Final = 8192  # KiB
ARGON2_M_MAX: Final = 1048576  # KiB (1 GiB): bounds what a hostile header can make us allocate
ARGON2_T_MIN: Final = 1
ARGON2_T_MAX: Final = 10
ARGON2_P_MIN: Final = 1
ARGON2_P_MAX: Final = 16
ARGON2_VERSION: Final = 0x13
WRAP_NONCE_SIZE: Final = 12
KEY_SIZE: Final = 32
RECEIPT_SECRET_SIZE: Final = 32
TAG_SIZE: Final = 16
WRAPPED_SIZE: Final = KEY_SIZE + RECEIPT_SECRET_SIZE + TAG_SIZE  # 80
OPRF_OUTPUT_SIZE: Final = 64
OPRF_ELEMENT_SIZE: Final = 32
OPRF_PROOF_SIZE: Final = 64
OPRF_INPUT_MAX: Final = 65535  # voprf: input must be < 2^16 bytes

# spec §key-schedule: labels, exact ASCII bytes.
LABEL_OPRF_INPUT: Final = b"rwc/v1 oprf input"
LABEL_KEK: Final = b"rwc/v1 kek"
LABEL_HEADER: Final = b"rwc/v1 header"
LABEL_PAYLOAD: Final = b"rwc/v1 payload"
LABEL_RECEIPT_KEY: Final = b"rwc/v1 receipt key"
LABEL_RECEIPT: Final = b"rwc/v1 receipt"
# spec §key-server: info string of the per-container VOPRF key (RFC 9497 DeriveKeyPair).
CONTAINER_KEY_INFO: Final = b"rwc/v1 container key"
CONTAINER_KEY_SEED_SIZE: Final = 32

# spec §payload: STREAM nonce = counter (11 bytes, big-endian) || last flag (1 byte).
STREAM_COUNTER_SIZE: Final = 11
STREAM_FLAG_LAST: Final = 0x01
STREAM_FLAG_MORE: Final = 0x00
TRAILER_SIZE: Final = 8  # index_length u64

# spec §index.
ENTRY_FILE: Final = 1
ENTRY_DIR: Final = 2
MODE_MASK: Final = 0o777
PATH_MAX: Final = 4096
COMPONENT_MAX: Final = 255
MTIME_NS_LIMIT: Final = 10**9
INDEX_LENGTH_MAX: Final = 256 * 1024 * 1024  # spec MUST bound; readers may lower it
ENTRY_COUNT_MAX: Final = 1 << 22
STREAM_ENTRY_NAME_DEFAULT: Final = "stdin"

# Implementation defaults (not part of the format).
IMPLICIT_DIR_MODE: Final = 0o755  # parents that have no entry of their own, on extraction
WORKERS_DEFAULT: Final = 2
WINDOW_PER_WORKER: Final = 2  # chunks in flight per worker: bounds memory, keeps cores busy


# A record (pycontainer/_record.py), not a frozen dataclass or a NamedTuple: every `rwc cat`
# defines it, and those cost ~3.7 M and ~0.6 M instructions to define against ~0.1 M (issue 15).
class Argon2Params(Record):
    """Argon2id cost parameters (spec §slot-server-oprf).

    The default is RFC 9106's second recommended option (64 MiB, t=3, p=4).

    Attributes:
        m: Memory in KiB.
        t: Number of passes.
        p: Degree of parallelism (lanes).
    """

    m: int = 65536
    t: int = 3
    p: int = 4

    def within_bounds(self) -> bool:
        """Return True if every parameter lies within the v1 bounds."""
        return (
            ARGON2_M_MIN <= self.m <= ARGON2_M_MAX
            and ARGON2_T_MIN <= self.t <= ARGON2_T_MAX
            and ARGON2_P_MIN <= self.p <= ARGON2_P_MAX
            and self.m >= 8 * self.p  # Argon2 itself requires m >= 8p
        )


ARGON2_DEFAULT: Final = Argon2Params()
