"""C2SP signed-note: Ed25519 keys, key IDs, signing and strict parsing (spec §transparency).

A note is a UTF-8 text ending in a newline, an empty line, and signature lines
``— <key name> base64(key ID (4 bytes, big-endian) || signature)``. The key ID of an
Ed25519 key is ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``; witness cosignature
keys use type ``0x04`` (:mod:`keyserver._domain.transparency.cosignature`). Keys are written as
the signed-note "vkey" strings that other tlog tools read: ``<name>+<hex key ID>+
base64(type || public key)`` and, for the private key, ``PRIVATE+KEY+<name>+<hex key ID>+
base64(type || 32-byte seed)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from keyserver._domain.transparency import BadSignatureError, TlogFormatError, UnknownKeyError

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
_KEY_TYPES = {ED25519, COSIGNATURE_V1}
_DASH = "\u2014 "
MAX_SIGNATURES = 64  # signed-note: verifiers MUST accept at least 16
MAX_NOTE_BYTES = 64 * 1024
_PRIVATE_PREFIX = "PRIVATE+KEY+"


def b64encode(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 §4), as signed-note and checkpoints use."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, what: str) -> bytes:
    """Strict standard base64: the alphabet only, padded, and re-encoding to the same text."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise TlogFormatError(f"{what} is not standard base64") from exc
    if b64encode(raw) != text:
        raise TlogFormatError(f"{what} is not canonical base64")
    return raw


def key_id(name: str, key_type: int, public_key: bytes) -> bytes:
    """signed-note: ``SHA-256(name || 0x0A || type || public key)[:4]``."""
    data = name.encode("utf-8") + b"\n" + bytes([key_type]) + public_key
    return hashlib.sha256(data).digest()[:4]


def check_name(name: str) -> str:
    """signed-note: a key name is non-empty, without Unicode spaces or ``+``."""
    if not name or "+" in name or any(c.isspace() for c in name) or not name.isprintable():
        raise TlogFormatError(f"key name {name!r} is empty or holds a space, + or control")
    return name


def _key_fields(text: str, what: str, form: str) -> tuple[str, int, bytes, str]:
    """``<name>+<hex key ID>+base64(type || 32 bytes)``, the fields of either key string.

    One reading for the public and the private string, so the key types and sizes a log
    or witness key may have are decided in one place. Returns the checked name, the key
    type, the 32 key bytes and the key ID as written (see :func:`_check_key_id`).
    """
    name, sep1, rest = text.partition("+")
    hex_id, sep2, blob = rest.partition("+")
    if not (sep1 and sep2):
        raise TlogFormatError(f"a {what} reads {form}")
    raw = b64decode(blob, f"the {what}")
    if len(raw) != 33 or raw[0] not in _KEY_TYPES:
        raise TlogFormatError(f"the {what} is not an Ed25519 key (type 0x01 or 0x04)")
    return check_name(name), raw[0], raw[1:], hex_id


def _check_key_id(written: str, computed: bytes, what: str) -> None:
    # signed-note: the ID written in a key string must be the one its name and key give;
    # a string that disagrees with itself was edited or damaged and is refused whole, not
    # trusted in part. Key IDs are public, so a plain compare.
    if written != computed.hex():
        raise TlogFormatError(f"the {what}'s ID does not match its name and key")


@dataclass(frozen=True)
class Signature:
    """One signature line: the key name, the 4-byte key ID and the signature bytes."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """The line as it appears in a note (with its newline)."""
        return f"{_DASH}{self.name} {b64encode(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class Note:
    """A signed note: its text (ending in a newline) and its signatures, in order."""

    text: str
    signatures: tuple[Signature, ...]

    def encode(self) -> bytes:
        """The note's bytes: text, an empty line, the signature lines."""
        return (self.text + "\n" + "".join(s.line() for s in self.signatures)).encode("utf-8")

    def with_signatures(self, *extra: Signature) -> Note:
        """The same note with further signatures appended (duplicates dropped)."""
        have = list(self.signatures)
        have += [s for s in extra if s not in have]
        return Note(self.text, tuple(have))


def parse_note(data: bytes) -> Note:
    """Parse a signed note strictly (signed-note §Format); raise :class:`TlogFormatError`."""
    if len(data) > MAX_NOTE_BYTES:
        raise TlogFormatError("note is larger than 64 KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TlogFormatError("note is not UTF-8") from exc
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise TlogFormatError("note holds a control character other than newline")
    # The text is separated from the signatures by the LAST empty line.
    cut = text.rfind("\n\n")
    if cut < 0 or not text.endswith("\n"):
        raise TlogFormatError("note has no empty line before its signatures")
    body, sig_block = text[: cut + 1], text[cut + 2 :]
    lines = sig_block[:-1].split("\n") if sig_block else []
    if not lines:
        raise TlogFormatError("note has no signature")
    if len(lines) > MAX_SIGNATURES:
        raise TlogFormatError(f"note has more than {MAX_SIGNATURES} signatures")
    sigs = []
    for line in lines:
        if not line.startswith(_DASH):
            raise TlogFormatError("a signature line does not start with an em dash and a space")
        name, space, b64 = line[len(_DASH) :].partition(" ")
        if not space:
            raise TlogFormatError("a signature line has no signature")
        raw = b64decode(b64, "a signature")
        if len(raw) < 5:
            raise TlogFormatError("a signature is shorter than its key ID")
        sigs.append(Signature(check_name(name), raw[:4], raw[4:]))
    return Note(body, tuple(sigs))


@dataclass(frozen=True)
class VerifierKey:
    """A public key with its name and type, as the signed-note vkey string encodes it."""

    name: str
    key_type: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        """The 4-byte key ID."""
        return key_id(self.name, self.key_type, self.public_key)

    def encode(self) -> str:
        """``<name>+<hex key ID>+base64(type || public key)``."""
        blob = b64encode(bytes([self.key_type]) + self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Parse a vkey string; the key ID in it must match the name and key."""
        what = "verifier key"
        name, key_type, public, written_id = _key_fields(
            text.strip(), what, "<name>+<key ID>+<base64 key>"
        )
        key = cls(name, key_type, public)
        _check_key_id(written_id, key.key_id, what)
        return key

    def _ed25519(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_key)

    def verify_raw(self, message: bytes, signature: bytes) -> None:
        """Verify an Ed25519 signature; raise :class:`BadSignatureError`."""
        try:
            self._ed25519().verify(signature, message)
        except InvalidSignature as exc:
            raise BadSignatureError(f"the signature of {self.name} does not verify") from exc

    def find(self, note: Note) -> Signature:
        """The note's signature by this key (same name AND key ID, signed-note §Signatures)."""
        for sig in note.signatures:
            if sig.name == self.name and sig.key_id == self.key_id:
                return sig
        raise UnknownKeyError(f"the note carries no signature of {self.name} ({self.key_id.hex()})")

    def verify_note(self, note: Note) -> None:
        """Verify the note's Ed25519 signature by this key over its text."""
        if self.key_type != ED25519:
            raise TlogFormatError("a cosignature key does not sign notes")
        sig = self.find(note)
        if len(sig.signature) != 64:
            raise BadSignatureError(f"the signature of {self.name} is not 64 bytes")
        self.verify_raw(note.text.encode("utf-8"), sig.signature)


@dataclass(frozen=True)
class SignerKey:
    """An Ed25519 private key with its name and type. Never logged; stored 0600."""

    name: str
    key_type: int
    seed: bytes

    def __repr__(self) -> str:
        # Keep the seed out of tracebacks and logs.
        return f"SignerKey(name={self.name!r}, key_type={self.key_type})"

    @classmethod
    def generate(cls, name: str, key_type: int = ED25519) -> SignerKey:
        """A new random key (the operating system's CSPRNG, through ``cryptography``)."""
        seed = Ed25519PrivateKey.generate().private_bytes_raw()
        return cls(check_name(name), key_type, seed)

    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    def verifier(self) -> VerifierKey:
        """The public half."""
        public = self._private().public_key().public_bytes_raw()
        return VerifierKey(self.name, self.key_type, public)

    def encode(self) -> str:
        """``PRIVATE+KEY+<name>+<hex key ID>+base64(type || seed)``."""
        blob = b64encode(bytes([self.key_type]) + self.seed)
        return f"{_PRIVATE_PREFIX}{self.name}+{self.verifier().key_id.hex()}+{blob}"

    @classmethod
    def parse(cls, text: str) -> SignerKey:
        """Parse a private key string; its key ID must match the key."""
        text = text.strip()
        if not text.startswith(_PRIVATE_PREFIX):
            raise TlogFormatError("a private key starts with PRIVATE+KEY+")
        what = "private key"
        name, key_type, seed, written_id = _key_fields(
            text[len(_PRIVATE_PREFIX) :], what, f"{_PRIVATE_PREFIX}<name>+<key ID>+<base64 key>"
        )
        key = cls(name, key_type, seed)
        _check_key_id(written_id, key.verifier().key_id, what)
        return key

    def sign_raw(self, message: bytes) -> bytes:
        """An Ed25519 signature (RFC 8032) over ``message``."""
        return self._private().sign(message)

    def sign_note(self, text: str) -> Signature:
        """signed-note Ed25519: the signature line of this key over the note text."""
        if self.key_type != ED25519:
            raise TlogFormatError("a cosignature key does not sign notes")
        return Signature(self.name, self.verifier().key_id, self.sign_raw(text.encode("utf-8")))
