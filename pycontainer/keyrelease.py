"""The key-release step as the library sees it: slot info, the server's answer, and servers.

The writer and reader only need an object with ``evaluate(slot, blinded_element)``; the
HTTP client (pycontainer/client/keyserver.py) implements it against the real key server, and
:class:`InProcessKeyServer` implements it with real VOPRF keys in memory for tests, test
vectors and offline demos.

Spec anchors: spec/protocol.md §evaluate, §commit, §receipt; spec/format.md §key-schedule.
"""

import os
from collections.abc import Callable
from typing import Protocol

from pycontainer import argon2_memory
from pycontainer._record import Record
from pycontainer.errors import (
    FormatError,
    KeyServerDeniedError,
    KeyServerHeaderMismatchError,
    KeyServerProtocolError,
    KeyServerRevokedError,
)
from pycontainer.format import keyschedule, oprf
from pycontainer.format import primitives as p

RandomSource = Callable[[int], bytes]


# Records (pycontainer/_record.py), not frozen dataclasses or NamedTuples: every `rwc cat`
# defines them, and those cost ~3.7 M and ~0.6 M instructions each against ~0.1 M (issue 15).
class SlotInfo(Record):
    """What a client needs to ask for a container's key release.

    Attributes:
        url: Base URL of the key server.
        container_id: The 16-byte container id.
        public_key: The server's 32-byte VOPRF public key for this container.
        header_digest: SHA-256 of the container header as read, sent so that the server
            refuses an altered copy before counting (None while sealing: no header yet).
    """

    url: str
    container_id: bytes
    public_key: bytes
    header_digest: bytes | None = None


class Evaluation(Record):
    """The key server's answer to an evaluate request.

    Attributes:
        evaluated_element: 32-byte evaluated element.
        proof: 64-byte DLEQ proof (c || s).
        challenge: The server's receipt challenge (the reader answers it with
            ``receipt_mac``), or None if the server asked for no receipt.
        attempts_remaining: Unconfirmed evaluations left before the server suspends the
            container or refuses the reader (protocol §receipt), or None if not told.
        attempts_limit: Which allowance ``attempts_remaining`` counts down, and so what
            running out does (protocol §receipt): ``container`` (the container is
            suspended), ``principal`` or ``medium`` (further tries are refused for a
            while); None if not told.
        password_required: Whether the writer sealed with a password, or None if not told.
    """

    evaluated_element: bytes
    proof: bytes
    challenge: bytes | None = None
    attempts_remaining: int | None = None
    password_required: bool | None = None
    attempts_limit: str | None = None


class KeyServer(Protocol):
    """Anything that can evaluate a blinded element for a container."""

    def evaluate(self, slot: SlotInfo, blinded_element: bytes) -> Evaluation:
        """Ask the server holding ``slot``'s key to evaluate ``blinded_element``.

        Raises:
            KeyServerCallError: Any refusal or failure (subclass says which).
        """
        ...


class _Record:
    """One container's key and receipts in an :class:`InProcessKeyServer` (mutable)."""

    __slots__ = (
        "challenges",
        "confirmed",
        "destroyed",
        "evaluator",
        "header_digest",
        "receipt_key",
    )

    def __init__(self, evaluator: oprf.Evaluator) -> None:
        self.evaluator = evaluator
        self.destroyed = False
        self.receipt_key: bytes | None = None
        self.header_digest: bytes | None = None
        self.challenges: list[bytes] = []
        self.confirmed: list[bytes] = []


class InProcessKeyServer:
    """A key server in memory with real VOPRF keys, one per container id.

    For tests, vector generation and offline demos only: it keeps keys in RAM and has no
    audit log or access policy.
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1/rwc-in-process",
        *,
        rng: RandomSource = os.urandom,
    ) -> None:
        """Create an empty server.

        Args:
            url: The URL put into slots (must satisfy the slot URL rules).
            rng: Randomness for seeds, container ids and challenges.
        """
        self.url = url
        self._rng = rng
        self._records: dict[bytes, _Record] = {}
        self.calls = 0

    def register(self, seed: bytes | None = None, container_id: bytes | None = None) -> SlotInfo:
        """Create a container key, like POST /v1/containers.

        Args:
            seed: 32-byte key seed (random if None).
            container_id: 16-byte id (random if None).

        Returns:
            The slot info a writer needs.
        """
        cid = container_id if container_id is not None else self._rng(p.CONTAINER_ID_SIZE)
        seed = seed if seed is not None else self._rng(p.CONTAINER_KEY_SEED_SIZE)
        ev = oprf.Evaluator(seed)
        self._records[cid] = _Record(ev)
        return SlotInfo(self.url, cid, ev.public_key)

    def _record(self, container_id: bytes) -> _Record:
        rec = self._records.get(container_id)
        if rec is None:
            raise KeyServerDeniedError(
                "the key server does not know this container",
                hint="check that you use the right key server",
            )
        if rec.destroyed:
            raise KeyServerRevokedError(
                "the container's key was destroyed on the key server; it can never be opened",
                hint="ask the issuing office for a new copy of the data",
            )
        return rec

    def evaluate(self, slot: SlotInfo, blinded_element: bytes) -> Evaluation:
        """Evaluate a blinded element with the container's key (see :class:`KeyServer`)."""
        import hmac  # noqa: PLC0415 - see confirm_receipt

        self.calls += 1
        rec = self._record(slot.container_id)
        # spec/protocol.md §evaluate: the committed header first; nothing is counted.
        if (
            rec.header_digest is not None
            and slot.header_digest is not None
            and not hmac.compare_digest(rec.header_digest, slot.header_digest)
        ):
            raise KeyServerHeaderMismatchError(
                "this copy of the container was altered: its header differs from the one "
                "registered on the key server",
                hint="get a fresh copy from the sender",
            )
        try:
            element, proof = rec.evaluator.evaluate(blinded_element)
        except FormatError:
            raise KeyServerProtocolError(
                "the key server rejected the request: invalid blinded element",
                hint="the client is misbehaving; update rwc",
            ) from None
        challenge = self._rng(32)
        rec.challenges.append(challenge)
        return Evaluation(element, proof, challenge)

    def commit(self, container_id: bytes, header_digest: bytes, receipt_key: bytes) -> None:
        """Store the header digest and receipt key, like POST .../commit."""
        rec = self._record(container_id)
        rec.header_digest = header_digest
        rec.receipt_key = receipt_key

    def confirm_receipt(self, container_id: bytes, challenge: bytes, mac: bytes) -> bool:
        """Check a receipt MAC, like POST .../receipt. Returns True if it verifies."""
        rec = self._record(container_id)
        if rec.receipt_key is None or challenge not in rec.challenges:
            return False
        # Imported here, as in evaluate: the stdlib's hmac loads the system's libcrypto
        # (~11 M instructions), and every `rwc cat` imports this module but never runs the
        # in-process server (issue 15, bench/profiles/startup.md).
        import hmac  # noqa: PLC0415

        want = keyschedule.receipt_mac(rec.receipt_key, container_id, challenge)
        ok = hmac.compare_digest(want, mac)
        if ok:
            rec.confirmed.append(challenge)
        return ok

    def destroy(self, container_id: bytes) -> None:
        """Crypto-erase a container's key: later evaluations raise KeyServerRevokedError."""
        rec = self._record(container_id)
        rec.evaluator = oprf.Evaluator(bytes(p.CONTAINER_KEY_SEED_SIZE))  # drop the real key
        rec.destroyed = True


def release_oprf(slot: SlotInfo, key_server: KeyServer, password: str) -> tuple[bytes, Evaluation]:
    """Run the key-release step up to the verified VOPRF output (spec §key-schedule).

    Blinds ``oprf_input``, asks ``key_server`` to evaluate it and verifies the server's
    proof against ``slot.public_key``. The KEK is then ``keyschedule.derive_kek`` of the
    output (Argon2id): :func:`release_kek` does both; the writer runs Argon2id while it
    seals the payload, which needs only the DEK.

    Args:
        slot: The container's slot (its public key is the one the proof must verify against).
        key_server: Evaluates the blinded element.
        password: The container password ("" if none).

    Returns:
        (the VOPRF output, the server's evaluation incl. its receipt challenge).

    Raises:
        InputError: The password is too long.
        FormatError: The public key is not a valid point.
        KeyServerCallError: The server refused or failed; KeyServerProtocolError if its proof
            did not verify.
    """
    # Check the public key and the password before talking to the server: a corrupt header
    # or an impossible password costs no request (spec [F-PUBKEY], [F-PASSWORD-LENGTH]).
    oprf.check_public_key(slot.public_key)
    keyschedule.check_password(password)
    data = keyschedule.oprf_input(slot.container_id, password)
    state, blinded = oprf.blind(data)
    evaluation = key_server.evaluate(slot, blinded)
    oprf_out = oprf.finalize(state, evaluation.evaluated_element, evaluation.proof, slot.public_key)
    return oprf_out, evaluation


def release_kek(
    slot: SlotInfo, key_server: KeyServer, password: str, argon2: p.Argon2Params
) -> tuple[bytes, Evaluation]:
    """Run the key-release step and derive the KEK (spec §key-schedule).

    :func:`release_oprf`, then Argon2id and HKDF of its output.

    Args:
        slot: The container's slot (its public key is the one the proof must verify against).
        key_server: Evaluates the blinded element.
        password: The container password ("" if none).
        argon2: Bounded Argon2id parameters.

    Returns:
        (KEK, the server's evaluation incl. its receipt challenge).

    Raises:
        InputError: The password is too long.
        FormatError: The public key is not a valid point.
        KeyServerCallError: The server refused or failed; KeyServerProtocolError if its proof
            did not verify.
    """
    oprf_out, evaluation = release_oprf(slot, key_server, password)
    with argon2_memory.blocks() as memory:  # huge pages for the blocks (issue 15)
        return keyschedule.derive_kek(oprf_out, slot.container_id, argon2, memory), evaluation
