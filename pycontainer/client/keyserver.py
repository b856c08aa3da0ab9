"""HTTP client for the rwc key server (the network edge of pycontainer).

``KeyServerClient`` implements the library's ``KeyServer`` protocol (``evaluate``) plus the
writer's ``register``/``commit``, the reader's ``receipt`` and ``whoami``.

Security decisions, each also commented where it is made:

* TLS certificates are always verified; a city's own PKI is trusted through ``ca_bundle``.
  The trust store, the URL policy, redirects and the size limit are the rules of
  pycontainer.client.transport, which `keyserver --server` follows too; the requests go
  over one keep-alive HTTP/1.1 connection (pycontainer.client.connection, http11).
* Proxies from the environment (HTTPS_PROXY, ALL_PROXY, NO_PROXY) are honoured: a city
  network may only reach the key server through one, and a CONNECT proxy cannot see or
  change the TLS session, which is verified end to end as above. Except for a loopback
  server: no proxy is ever used for it, since a proxy would connect to *its own* loopback
  and a plain ``http://`` request would hand it the token.
* Plain ``http://`` only to loopback hosts (see pycontainer.client.server_url).
* Redirects are not followed (the bearer token must go to the configured server only).
* Every call has a connect and a read timeout; response bodies are size-limited.
* Retries only where repeating cannot change server state (see ``_send``).
* Tokens and OPRF elements are never logged or put into exception messages.
* Language-neutral unless asked: with ``language`` every request carries
  ``Accept-Language`` and a refusal's ``detail`` comes back in it where the server can
  (spec §problems); the error's English message and its :class:`~pycontainer.errors.Refusal`
  facts are the same either way (the `rwc` command sets it, pycontainer/cli/common.py).

Spec anchors: spec/protocol.md §auth, §register, §evaluate, §commit, §receipt, §whoami,
§errors; spec/format.md §slot-server-oprf.
"""

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pycontainer._record import Record
from pycontainer.client.connection import (
    CERT_UNTRUSTED,
    PROXY_HINTS,
    TLS_HINTS,
    Answer,
    ConnectFailedError,
    Connection,
    ExchangeFailedError,
)
from pycontainer.client.problems import clean_text, problem_to_error
from pycontainer.client.server_url import normalize_server_url
from pycontainer.client.transport import MAX_RESPONSE_BYTES, BearerAuth, trust_store
from pycontainer.client.wire import (
    Access,
    attempts_limit,
    b64url_decode,
    b64url_encode,
    count,
    flag,
    strict_json,
    text,
)
from pycontainer.errors import (
    KeyServerCallError,
    KeyServerProtocolError,
    KeyServerUnavailableError,
    Refusal,
)
from pycontainer.format.primitives import (
    CONTAINER_ID_SIZE,
    OPRF_ELEMENT_SIZE,
    OPRF_PROOF_SIZE,
    PUBLIC_KEY_SIZE,
)
from pycontainer.format.url import parse_server_url
from pycontainer.keyrelease import Evaluation, SlotInfo

if TYPE_CHECKING:
    from pycontainer.client.records import Identity, Policy, Registration
    from pycontainer.client.tls import PendingContext

__all__ = [
    "Access",
    "ClientLimits",
    "Identity",
    "KeyServerClient",
    "Policy",
    "Registration",
    "b64url_decode",
    "b64url_encode",
]

# The types of register and whoami, offered here by name and loaded on first use (PEP 562):
# a reader's run never creates them (pycontainer/client/records.py).
_RECORDS = frozenset({"Identity", "Policy", "Registration"})


def __getattr__(name: str) -> Any:
    if name not in _RECORDS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from pycontainer.client import records  # noqa: PLC0415

    return getattr(records, name)


CHALLENGE_SIZE = 32  # spec §evaluate: the receipt challenge is 32 random bytes
HEADER_DIGEST_SIZE = 32  # SHA-256
RECEIPT_KEY_SIZE = 32
RECEIPT_MAC_SIZE = 32  # HMAC-SHA-256
USER_AGENT = "rwc-client/1"


class ClientLimits(Record):
    """Timeouts, retry policy and size limits of the client (configuration, not magic numbers).

    A record for its creation cost at import (pycontainer/_record.py, issue 15).

    Attributes:
        connect_timeout: Seconds to establish a connection (TCP + TLS).
        read_timeout: Seconds to wait for each read of the answer.
        retries: How many times a safe request is retried (see KeyServerClient._send).
        backoff_initial: First pause between retries, in seconds; doubles each time.
        backoff_max: Longest pause between retries, in seconds.
        max_response_bytes: Largest response body accepted.
    """

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retries: int = 2
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    max_response_bytes: int = MAX_RESPONSE_BYTES


class KeyServerClient:
    """Talks to one key server over HTTPS on behalf of one principal (its bearer token).

    The client is bound to ``base_url``: ``evaluate`` goes there regardless of ``slot.url``,
    because a reader may reach the server under another name (``--server``/RWC_SERVER); the
    caller decides which URL to trust and builds the client for it. (Trust in the answer does
    not depend on the URL: the library verifies the proof against the header's public key.)
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        ca_bundle: str | None = None,
        timeout: tuple[float, float] | None = None,
        retries: int | None = None,
        limits: ClientLimits | None = None,
        sleep: Callable[[float], None] = time.sleep,
        language: str | None = None,
        tls: "PendingContext | None" = None,
    ) -> None:
        """Create a client.

        Args:
            base_url: The server's base URL (https://, or http:// for loopback only).
            token: The bearer token ("rwc_...").
            ca_bundle: A PEM file of CA certificates to trust instead of the certifi store
                (the environment's REQUESTS_CA_BUNDLE is never used).
            timeout: (connect, read) seconds; overrides ``limits``.
            retries: Retries of safe requests; overrides ``limits``.
            limits: Timeouts, retries and size limits.
            sleep: Pause function between retries (injectable for tests).
            language: A language tag (``"ja"``) sent as ``Accept-Language`` on every
                request, for problem details in a person's language (spec §problems);
                None (the default) sends none and gets the protocol's English.
            tls: The TLS context already being built for this server
                (pycontainer.client.tls.start, by a caller that knew the URL early);
                without it the context is built at the first request.

        Raises:
            ServerUrlError: The URL is refused (see normalize_server_url).
            ValueError: ``language`` is not a language tag.
        """
        limits = limits or ClientLimits()
        if timeout is not None:
            limits = limits._replace(connect_timeout=timeout[0], read_timeout=timeout[1])
        if retries is not None:
            limits = limits._replace(retries=retries)
        self.base_url = normalize_server_url(base_url)
        self._limits = limits
        self._sleep = sleep
        self._headers = {
            "Authorization": BearerAuth(token).header(),
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        if language is not None:
            # Header material only (letters, digits, "-"): a caller's value must not be able
            # to fold or split the request's headers.
            if not language or not all(c.isascii() and (c.isalnum() or c == "-") for c in language):
                raise ValueError(f"not a language tag: {language!r}")
            self._headers["Accept-Language"] = language
        url = parse_server_url(self.base_url)
        # TLS verification is always on, against a named file (transport.trust_store); no
        # proxy for a loopback server (connection.py). A plain http:// (loopback) server has
        # no TLS, so certifi's store is not looked up for it (importing certifi costs a small
        # open ~4 ms, issue 15); a named --ca-bundle is still checked, whatever the scheme.
        needs_store = url.scheme == "https" or ca_bundle is not None
        self._connection = Connection(
            url,
            trust_store=(
                trust_store(ca_bundle, option="--ca-bundle (or RWC_CA_BUNDLE)")
                if needs_store
                else None
            ),
            pending=tls,
            connect_timeout=limits.connect_timeout,
            read_timeout=limits.read_timeout,
            max_response_bytes=limits.max_response_bytes,
        )

    def __repr__(self) -> str:
        return f"KeyServerClient({self.base_url!r})"

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()

    def __enter__(self) -> "KeyServerClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the protocol -----------------------------------------------------------------

    def register(self, policy: "Policy") -> "Registration":
        """Register a new, pending container with ``policy`` (spec §register).

        Raises:
            KeyServerCallError: A refusal, network failure or malformed answer.
        """
        body: dict[str, Any] = {
            "label": policy.label,
            "medium": policy.medium,
            "readers": list(policy.readers),
            "reader_groups": list(policy.reader_groups),
            "not_after": policy.not_after.isoformat() if policy.not_after else None,
            "password_required": policy.password_required,
            "attempt_budget": policy.attempt_budget,
        }
        if policy.people is not None:
            # Sent only when declared: a server from before it refuses unknown members.
            body["people"] = policy.people
        doc = self._call(
            "POST", "/v1/containers", body, what="register a container", action="register"
        )
        cid = b64url_decode(text(doc, "container_id"), CONTAINER_ID_SIZE, "container id")
        pk = b64url_decode(text(doc, "public_key"), PUBLIC_KEY_SIZE, "public key")
        suite = doc.get("suite")
        if suite != "ristretto255-SHA512":  # spec §register: the only v1 suite
            raise KeyServerProtocolError(f"the key server offers an unknown suite {suite!r}")
        pending = doc.get("pending_expires_at")
        from pycontainer.client.records import Registration  # noqa: PLC0415 - see records

        return Registration(
            container_id=cid,
            public_key=pk,
            server_id=clean_text(text(doc, "server_id"), 200) or "",
            pending_expires_at=pending if isinstance(pending, str) else None,
        )

    def evaluate(self, slot: SlotInfo, blinded_element: bytes) -> Evaluation:
        """Ask the server to evaluate a blinded element for ``slot``'s container.

        Implements the library's KeyServer protocol (spec §evaluate).

        Raises:
            KeyServerCallError: A refusal (revoked, suspended, denied, expired), network failure
                or malformed answer (wrong sizes).
        """
        if len(blinded_element) != OPRF_ELEMENT_SIZE:
            raise ValueError("a blinded element is 32 bytes")
        path = f"/v1/containers/{b64url_encode(slot.container_id)}/evaluate"
        body = {"blinded_element": b64url_encode(blinded_element)}
        if slot.header_digest is not None:
            # spec/protocol.md §evaluate: the server refuses an altered copy before counting.
            body["header_digest"] = b64url_encode(slot.header_digest)
        doc = self._call("POST", path, body, what="release the key", action="evaluate")
        element = b64url_decode(doc.get("evaluated_element"), OPRF_ELEMENT_SIZE, "element")
        proof = b64url_decode(doc.get("proof"), OPRF_PROOF_SIZE, "proof")
        raw_challenge = doc.get("challenge")
        challenge = (
            None
            if raw_challenge is None
            else b64url_decode(raw_challenge, CHALLENGE_SIZE, "challenge")
        )
        return Evaluation(
            evaluated_element=element,
            proof=proof,
            challenge=challenge,
            attempts_remaining=count(doc.get("attempts_remaining")),
            password_required=flag(doc.get("password_required")),
            attempts_limit=attempts_limit(doc.get("attempts_limit")),
        )

    def access(self, container_id: bytes) -> Access:
        """What the reader needs to know before asking for a password (protocol §access).

        Releases nothing and counts nothing: whether the writer sealed with a password,
        and how many unconfirmed attempts are left.

        Raises:
            KeyServerError: A refusal (suspended, destroyed, not allowed ...), network
                failure or malformed answer.
        """
        doc = self._call(
            "GET",
            f"/v1/containers/{b64url_encode(container_id)}/access",
            None,
            what="look up the container",
            action="access",
        )
        required = flag(doc.get("password_required"))
        if required is None:
            raise KeyServerProtocolError("the key server did not say whether a password is needed")
        return Access(
            password_required=required,
            attempts_remaining=count(doc.get("attempts_remaining")),
            attempts_limit=attempts_limit(doc.get("attempts_limit")),
        )

    def commit(self, container_id: bytes, header_digest: bytes, receipt_key: bytes) -> None:
        """Activate a pending container after sealing (spec §commit).

        Raises:
            KeyServerCallError: A refusal, network failure or malformed answer.
        """
        if len(header_digest) != HEADER_DIGEST_SIZE or len(receipt_key) != RECEIPT_KEY_SIZE:
            raise ValueError("header digest and receipt key are 32 bytes each")
        cid = b64url_encode(container_id)
        doc = self._call(
            "POST",
            f"/v1/containers/{cid}/commit",
            {
                "header_digest": b64url_encode(header_digest),
                "receipt_key": b64url_encode(receipt_key),
            },
            what="activate the container",
            action="commit",
        )
        if doc.get("state") != "active" or doc.get("container_id") != cid:
            raise KeyServerProtocolError("the key server did not confirm the activation")

    def receipt(self, container_id: bytes, challenge: bytes, mac: bytes) -> None:
        """Confirm to the server that the container was opened (spec §receipt).

        Raises:
            KeyServerCallError: A refusal, network failure or malformed answer.
        """
        self.send_receipt(container_id, challenge, mac)()

    def send_receipt(self, container_id: bytes, challenge: bytes, mac: bytes) -> Callable[[], None]:
        """Send the receipt now; the function returned reads the answer (before any request).

        spec/format.md §Reading step 3 sends it before the checks that follow; its answer
        decides nothing (§receipts), so a reader decrypts while the server records it.

        Raises:
            KeyServerCallError: Not sent (the function: a refusal, failure, bad answer).
        """
        if len(mac) != RECEIPT_MAC_SIZE:
            raise ValueError("a receipt MAC is 32 bytes")
        body = {"challenge": b64url_encode(challenge), "mac": b64url_encode(mac)}
        path = f"/v1/containers/{b64url_encode(container_id)}/receipt"
        self._send("POST", path, body, read=False)

        def confirmed() -> None:
            try:
                answer = self._connection.answer()
            except ExchangeFailedError as exc:  # a POST: never repeated (see _send)
                raise _unavailable(self.base_url, exc.why) from None
            doc = self._read(answer, what="accept the receipt", action="receipt")
            if doc.get("confirmed") is not True:
                raise KeyServerProtocolError("the key server did not confirm the receipt")

        return confirmed

    def whoami(self) -> "Identity":
        """Return the principal the token belongs to (spec §whoami).

        Raises:
            KeyServerCallError: A refusal (bad token), network failure or malformed answer.
        """
        doc = self._call("GET", "/v1/whoami", None, what="identify you", action="whoami")

        def names(key: str) -> tuple[str, ...]:
            value = doc.get(key) or []
            if not isinstance(value, list):
                raise KeyServerProtocolError(f"the key server sent a malformed {key!r}")
            return tuple(clean_text(v, 200) or "?" for v in value)

        from pycontainer.client.records import Identity  # noqa: PLC0415 - see records

        return Identity(
            name=clean_text(text(doc, "name"), 200) or "?",
            roles=names("roles"),
            organisation=clean_text(doc.get("organisation"), 200),
            groups=names("groups"),
        )

    # --- transport --------------------------------------------------------------------

    def _call(self, method: str, path: str, body: Any, *, what: str, action: str) -> dict[str, Any]:
        answer = self._send(method, path, body)
        assert answer is not None  # read (the default): _send returns the answer
        return self._read(answer, what=what, action=action)

    def _read(self, answer: Answer, *, what: str, action: str) -> dict[str, Any]:
        status, content_type, raw = answer.status, answer.content_type, answer.body
        if 200 <= status < 300:
            media = content_type.split(";", 1)[0].strip().lower()
            if media != "application/json":
                said = clean_text(media, 80) or "no content type"
                raise KeyServerProtocolError(
                    f"the key server answered {what} with {said}",
                    hint="check the server URL: it may point at a web page, not a key server",
                    refusal=Refusal("not_json", {"action": action, "media": said}),
                )
            return strict_json(raw)
        if 300 <= status < 400:
            # Redirects are not followed: the token must only ever go to the configured URL.
            raise KeyServerProtocolError(
                f"the key server answered with a redirect (HTTP {status})",
                hint="give the final URL of the key server",
                refusal=Refusal("redirect", {"status": str(status)}),
            )
        raise problem_to_error(
            status,
            content_type,
            raw,
            what=what,
            action=action,
            server=self.base_url,
            language=answer.content_language,
        )

    def _send(self, method: str, path: str, body: Any, *, read: bool = True) -> Answer | None:
        """Send one request, retrying only where it is safe; its answer (None if not ``read``).

        Retry rules: a request is repeated only (a) if the connection could not be established
        at all, so the server never saw it, or (b) for GET, which changes nothing on the
        server. POSTs that may have reached the server are never repeated: evaluate counts
        every attempt against the container's attempt budget (and issues a new receipt
        challenge), and register/commit are not idempotent, so a blind retry could burn a
        reader's budget, leave a second pending registration, or turn a lost "active"
        answer into a confusing conflict.
        """
        idempotent = method == "GET"
        headers = dict(self._headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            try:
                self._connection.send(method, path, data, headers)
                if not read:
                    return None
                answer = self._connection.answer()
            except ConnectFailedError as exc:
                if exc.tls:
                    raise KeyServerUnavailableError(
                        f"TLS connection to {self.base_url} failed: {exc.why}",
                        hint=TLS_HINTS.get(exc.why, TLS_HINTS[CERT_UNTRUSTED]),
                        refusal=Refusal("tls", {"url": self.base_url, "why": exc.why}),
                    ) from None
                failure: ConnectFailedError | ExchangeFailedError = exc
                safe = exc.transient  # nothing was sent; a proxy's refusal would only repeat
            except ExchangeFailedError as exc:
                failure, safe = exc, idempotent
            else:
                status = answer.status
                if idempotent and status in (502, 503, 504) and attempt < self._limits.retries:
                    self._backoff(attempt)
                    attempt += 1
                    continue
                return answer
            if safe and attempt < self._limits.retries:
                self._backoff(attempt)
                attempt += 1
                continue
            raise _unavailable(self.base_url, failure.why)

    def _backoff(self, attempt: int) -> None:
        delay = min(self._limits.backoff_initial * (2**attempt), self._limits.backoff_max)
        self._sleep(delay)


def _unavailable(base_url: str, why: str) -> KeyServerCallError:
    return KeyServerUnavailableError(
        f"cannot reach the key server at {base_url} ({why})",
        hint=PROXY_HINTS.get(
            why, "check your network connection and the server URL (--server URL or RWC_SERVER)"
        ),
        refusal=Refusal("unreachable", {"url": base_url, "why": why}),
    )
