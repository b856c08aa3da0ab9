"""Thin wrapper over ``voprf.ristretto`` (RFC 9497 VOPRF, ristretto255-SHA512).

Client side: :func:`blind` and :func:`finalize` (with proof verification). Server side:
:class:`Evaluator` (used by the in-process key server and tests; the key server may use it
too). ``voprf`` reports every problem as ``ValueError``; here they become our errors:
a bad proof or element from the server is a :class:`KeyServerProtocolError`, a bad public
key in a header is a :class:`FormatError`.

Spec anchors: spec/format.md §key-schedule, spec/protocol.md §evaluate.
"""

from __future__ import annotations

from voprf import ristretto as _r

from pycontainer.errors import FormatError, KeyServerProtocolError
from pycontainer.format import primitives as p


class BlindState:
    """The client's secret blinding state between :func:`blind` and :func:`finalize`.

    Never log it: the blind unmasks the password-derived input (so its repr shows nothing
    of it). A plain class, not a dataclass: every `rwc cat` imports this module (issue 15).
    """

    __slots__ = ("_client",)

    def __init__(self, client: object) -> None:
        self._client = client


def blind(oprf_input: bytes) -> tuple[BlindState, bytes]:
    """Blind an input (random blind drawn inside voprf).

    Args:
        oprf_input: The VOPRF input, 1..65535 bytes.

    Returns:
        (state for finalize, 32-byte blinded element to send to the server).

    Raises:
        ValueError: The input is empty or too long (a programming error here: our inputs
            always start with a label and the password length is bounded by the caller).
    """
    client, blinded = _r.Client.blind(oprf_input)
    return BlindState(client), bytes(blinded.serialize())


def check_public_key(public_key: bytes) -> None:
    """Check that a public key is a valid, non-identity ristretto255 element (spec [F-PUBKEY]).

    Raises:
        FormatError: It is not (a corrupt header or registration).
    """
    _public_key(public_key)


def _public_key(public_key: bytes) -> _r.PublicKey:
    try:
        if len(public_key) != p.PUBLIC_KEY_SIZE:
            raise ValueError("bad length")  # noqa: TRY301 -- same path as voprf's own errors
        return _r.PublicKey.deserialize(public_key)
    except ValueError:
        raise FormatError(
            "the key server public key in the container is not a valid ristretto255 point",
            hint="the container is damaged; get a fresh copy",
        ) from None


def finalize(state: BlindState, evaluated_element: bytes, proof: bytes, public_key: bytes) -> bytes:
    """Unblind the server's answer after verifying its DLEQ proof against ``public_key``.

    Args:
        state: From :func:`blind`.
        evaluated_element: 32 bytes from the server.
        proof: 64 bytes (c || s) from the server.
        public_key: The container's server public key (from the header/registration).

    Returns:
        The 64-byte VOPRF output.

    Raises:
        KeyServerProtocolError: The proof does not verify or the answer is malformed.
        FormatError: ``public_key`` is not a valid point.
    """
    pk = _public_key(public_key)
    if len(evaluated_element) != p.OPRF_ELEMENT_SIZE or len(proof) != p.OPRF_PROOF_SIZE:
        raise KeyServerProtocolError(
            "the key server sent a malformed answer (wrong element or proof size)",
            hint="the server or something between you and it is misbehaving; tell its operator",
        )
    try:
        # spec [F-EVALUATED]: the element's encoding is checked before the proof, so an
        # identity or non-canonical element is refused the same way by every reader.
        _r.EvaluatedElement.deserialize(evaluated_element)
    except ValueError:
        raise KeyServerProtocolError(
            "the key server sent an invalid evaluated element (not a valid non-identity "
            "ristretto255 encoding)",
            hint="the server or something between you and it is misbehaving; tell its operator",
        ) from None
    try:
        # voprf's wire form of a verifiable output is proof || element (checked against RFC).
        out = _r.VerifiableOutput.deserialize(proof + evaluated_element)
        client: _r.Client = state._client  # type: ignore[assignment]
        return bytes(client.finalize(out, pk))
    except ValueError:
        # spec [F-PROOF]: a failing proof means the answer was not made with this key:
        # never use it (it could be an attacker's key that they can later brute-force).
        raise KeyServerProtocolError(
            "the key server's proof did not verify: its answer was not made with this "
            "container's key",
            hint="you may be talking to the wrong or an impostor server; check the URL "
            "and tell the server's operator",
        ) from None


class Evaluator:
    """A VOPRF server key (RFC 9497 DeriveKeyPair from a 32-byte seed)."""

    def __init__(self, seed: bytes, info: bytes = p.CONTAINER_KEY_INFO) -> None:
        """Derive the key pair.

        Args:
            seed: 32 secret random bytes.
            info: Public key info (the rwc container-key label by default).

        Raises:
            ValueError: The seed is not 32 bytes.
        """
        if len(seed) != p.CONTAINER_KEY_SEED_SIZE:
            raise ValueError("the VOPRF seed must be 32 bytes")
        self._ev = _r.Evaluator.from_seed(seed, info)

    @property
    def public_key(self) -> bytes:
        """The 32-byte serialized public key."""
        return bytes(self._ev.public_key.serialize())

    def evaluate(self, blinded_element: bytes) -> tuple[bytes, bytes]:
        """Evaluate a blinded element and prove it.

        Args:
            blinded_element: 32 bytes from a client.

        Returns:
            (evaluated_element 32 bytes, proof 64 bytes).

        Raises:
            FormatError: The blinded element is not a valid non-identity point.
        """
        try:
            if len(blinded_element) != p.OPRF_ELEMENT_SIZE:
                raise ValueError("bad length")  # noqa: TRY301
            blinded = _r.BlindedInput.deserialize(blinded_element)
        except ValueError:
            raise FormatError(
                "the blinded element is not a valid ristretto255 point",
                hint="the client is misbehaving",
            ) from None
        out = bytes(self._ev.evaluate(blinded).serialize())
        proof, element = out[: p.OPRF_PROOF_SIZE], out[p.OPRF_PROOF_SIZE :]
        return element, proof
