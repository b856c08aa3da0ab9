"""What the host committer and its workers say to each other (keyserver/_release/hostcommit.py).

Why a schema of its own and not pickle (the ninth session's first version, with an
allow-listed unpickler): a reviewer has to trust every class an unpickler may build and
every ``__setstate__``/``__reduce__`` path of them; here the whole surface is this
module's checks. Each message is CANONICAL JSON (ASCII, sorted keys, no spaces, no
floats): it is decoded, checked field by field against the schema below, and encoded
again, and anything that does not come back byte for byte (a duplicate key, another
spelling of a string, a field too many or missing, a value of another type) is refused
as a whole with :class:`WireError`. Nothing is taken on trust because of who sent it
(the peer is already checked: socket 0600 in a 0700 directory, ``SO_PEERCRED``).

Worker -> committer, ``{"jobs": [JOB, ...]}`` (1..:data:`MAX_JOBS`), JOB::

    {"auth_error": REFUSAL|null,   # unauthenticated: the header was unusable
     "cid": ID|null,               # the container id, only when canonical (junk stays home)
     "digest": HEX(32)|null,       # SHA-256 of the bearer token (never the token)
     "header_digest": HEX(32)|null,
     "input_error": REFUSAL|null,  # invalid-request: answered after authentication
     "remote": TEXT(255)|null}     # the client address, for the audit entry

No actor crosses: the committer authenticates every job itself from the token digest (a
job that names an authenticated actor is refused at encoding), and no blinded element
(the worker evaluates, after the commit).

Committer -> worker, ``{"outcomes": [OUTCOME, ...]}``, one per job in order, OUTCOME one of::

    {"release": {"challenge": HEX(32)|null, "expires": TIME|null,
                 "attempts_limit": LIMIT|null, "attempts_remaining": INT|null,
                 "generation": INT, "mode": "read"|"seal",
                 "password_required": BOOL, "sealed": HEX}}
    {"refusal": REFUSAL}                      # already audited by the committer
    {"failure": "unavailable"|"internal"}    # nothing released (details in its log)

The release carries the container's seed SEALED under the master key with its key
generation; the worker opens it with its own key ring. REFUSAL is a refusal of
keyserver/_domain/errors.py by its problem slug, its catalogue message and its problem
members::

    {"slug": SLUG, "msgid": TEXT, "values": {NAME: TEXT|INT|MESSAGE},
     "extensions": {NAME: TEXT|INT|null}}      # MESSAGE: {"msgid": TEXT, "values": {...}}
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from keyserver._domain import budget
from keyserver._domain.context import RequestContext
from keyserver._domain.encoding import b64e, format_time
from keyserver._domain.errors import (
    InternalError,
    InvalidRequestError,
    KeyServerError,
    UnauthenticatedError,
)
from keyserver._domain.i18n import Message
from keyserver._domain.validation import (
    CHALLENGE_BYTES,
    CONTAINER_ID_BYTES,
    decode_container_id,
    valid_container_id,
)
from keyserver._release.jobs import EvalJob

#: Largest message either way. A batch is at most MAX_JOBS jobs of well under 1 KiB
#: each; a larger message is refused (and a truncated one detected), never half-read.
MAX_MESSAGE = 1 << 20
#: Jobs per message: a worker's group commit takes at most 64 (GroupCommit's max_batch).
MAX_JOBS = 64
FAILURES = frozenset({"unavailable", "internal"})

_DIGEST_BYTES = 32  # SHA-256: the token digest and the header digest
_SEALED_MAX = 1024  # a sealed 32-byte seed is nonce + ciphertext + tag: far below this
_TEXT_MAX = 4096  # a refusal's message id, value or problem member
_REMOTE_MAX = 255
_INT_MAX = (1 << 63) - 1  # what the database's BIGINT holds
_NAME = re.compile(r"[a-z][a-z_]{0,31}")  # a message value's or a problem member's name
_LIMITS = frozenset({budget.LIMIT_CONTAINER, budget.LIMIT_PRINCIPAL, budget.LIMIT_MEDIUM})
_RELEASE_KEYS = frozenset(
    {
        "_sealed",
        "_challenge",
        "_expires",
        "_mode",
        "attempts_limit",
        "attempts_remaining",
        "password_required",
    }
)


class WireError(ValueError):
    """A message, or a value to send, that is not exactly what the schema allows."""


def _classes() -> dict[str, type[KeyServerError]]:
    found: dict[str, type[KeyServerError]] = {}
    todo: list[type[KeyServerError]] = [KeyServerError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        # "internal" is InternalError's (the base class shares its slug).
        if cls is not KeyServerError:
            found[cls.slug] = cls
    return found


#: The refusal a slug names. Read off the hierarchy (as errors.PROBLEM_STATUS is), so a
#: new refusal class crosses without a change here.
_BY_SLUG = _classes()
assert _BY_SLUG["internal"] is InternalError


# --------------------------------------------------------------------------------------
# Canonical JSON


def _refuse_number(text: str) -> Any:
    raise WireError(f"a committer message may not hold {text[:16]!r}")


def _canonical(value: Any) -> bytes:
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
        ).encode("ascii")
    except (TypeError, ValueError) as exc:
        raise WireError(f"not encodable: {exc}") from exc


def _dumps(value: Any) -> bytes:
    data = _canonical(value)
    if len(data) > MAX_MESSAGE:
        raise WireError("committer message too large")
    return data


def _loads(data: bytes) -> Any:
    if len(data) > MAX_MESSAGE:
        raise WireError("committer message too large")
    try:
        value = json.loads(
            data.decode("ascii"), parse_float=_refuse_number, parse_constant=_refuse_number
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise WireError(f"not canonical JSON: {exc}") from exc
    if _canonical(value) != data:
        raise WireError("not canonical JSON (key order, spacing, escapes or a duplicate key)")
    return value


# --------------------------------------------------------------------------------------
# Field checks (decoding); each names the field it refuses


def _object(value: Any, keys: frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or value.keys() != keys:
        raise WireError(f"{what} must be an object of exactly {sorted(keys)}")
    return value


def _text(value: Any, what: str, max_len: int = _TEXT_MAX) -> str:
    if not isinstance(value, str) or len(value) > max_len:
        raise WireError(f"{what} must be a string of at most {max_len} characters")
    return value


def _int(value: Any, what: str, low: int = 0) -> int:
    if type(value) is not int or not low <= value <= _INT_MAX:
        raise WireError(f"{what} must be an integer in {low}..{_INT_MAX}")
    return value


def _hex(value: Any, what: str, length: int | None = None) -> bytes:
    # Hex, not the protocol's base64url: a fraction of the CPU per batch, and one
    # spelling (lower case, no spaces: checked by encoding it again).
    text = _text(value, what, 2 * _SEALED_MAX)
    try:
        raw = bytes.fromhex(text)
    except ValueError as exc:
        raise WireError(f"{what} is not hex") from exc
    if raw.hex() != text or (length is not None and len(raw) != length):
        raise WireError(f"{what} is not lower-case hex of the right length")
    return raw


def _optional(value: Any, check: Any, *args: Any) -> Any:
    return None if value is None else check(value, *args)


# --------------------------------------------------------------------------------------
# Refusals


def _encode_message(message: Message, nested: bool = False) -> dict[str, Any]:
    if message.plural is not None:
        raise WireError("a message with a count (ngettext) cannot cross")  # none on this path
    values: dict[str, Any] = {}
    for name, value in message.values.items():
        if not _NAME.fullmatch(name):
            raise WireError(f"message value name {name!r}")
        if isinstance(value, Message) and not nested:
            values[name] = _encode_message(value, nested=True)
        elif type(value) in (str, int):
            values[name] = value
        else:
            raise WireError(f"message value {name!r} of type {type(value).__name__}")
    return {"msgid": message.msgid, "values": values}


def _decode_message(value: Any, what: str, nested: bool = False) -> Message:
    doc = _object(value, frozenset({"msgid", "values"}), what)
    values = doc["values"]
    if not isinstance(values, dict):
        raise WireError(f"{what}.values must be an object")
    decoded: dict[str, object] = {}
    for name, item in values.items():
        if not _NAME.fullmatch(name):
            raise WireError(f"{what}.values has a bad name")
        if isinstance(item, dict) and not nested:
            decoded[name] = _decode_message(item, f"{what}.values.{name}", nested=True)
        elif type(item) is int:
            decoded[name] = _int(item, f"{what}.values.{name}", low=-_INT_MAX)
        else:
            decoded[name] = _text(item, f"{what}.values.{name}")
    return Message(_text(doc["msgid"], f"{what}.msgid"), decoded)


def encode_refusal(error: KeyServerError) -> dict[str, Any]:
    """A refusal as REFUSAL (see the module docstring).

    Raises:
        WireError: Its detail is not a catalogue message, or a member is not text, an
            integer or null.
    """
    if error.message is None or _BY_SLUG.get(error.slug) is not type(error):
        raise WireError(f"a {type(error).__name__} without a catalogue message cannot cross")
    extensions: dict[str, Any] = {}
    for name, value in error.extensions.items():
        if not _NAME.fullmatch(name) or not (value is None or type(value) in (str, int)):
            raise WireError(f"problem member {name!r} cannot cross")
        extensions[name] = value
    return {"slug": error.slug, **_encode_message(error.message), "extensions": extensions}


def decode_refusal(value: Any, what: str, slugs: frozenset[str] | None = None) -> KeyServerError:
    """The refusal a REFUSAL names (``slugs``: the ones allowed here, default any).

    Raises:
        WireError: Not a REFUSAL, a slug not allowed, or a message its values do not fill.
    """
    doc = _object(value, frozenset({"slug", "msgid", "values", "extensions"}), what)
    cls = _BY_SLUG.get(doc["slug"]) if isinstance(doc["slug"], str) else None
    if cls is None or (slugs is not None and cls.slug not in slugs):
        raise WireError(f"{what}.slug is not a refusal allowed here")
    message = _decode_message({"msgid": doc["msgid"], "values": doc["values"]}, what)
    extensions = doc["extensions"]
    if not isinstance(extensions, dict) or not all(
        _NAME.fullmatch(k) and (v is None or type(v) in (str, int)) for k, v in extensions.items()
    ):
        raise WireError(f"{what}.extensions must map names to text, integers or null")
    if "suggests" in extensions:  # NotFoundError's argument, not a problem member
        raise WireError(f"{what}.extensions may not name 'suggests'")
    try:
        # The English detail is built here, from the catalogue: a message id whose
        # placeholders its values do not fill is refused, not raised later in a handler.
        return cls(message, **extensions)
    except (KeyError, ValueError, TypeError) as exc:
        raise WireError(f"{what}: the message does not format") from exc


# --------------------------------------------------------------------------------------
# Worker -> committer

_JOB_KEYS = frozenset({"auth_error", "cid", "digest", "header_digest", "input_error", "remote"})
_AUTH = frozenset({UnauthenticatedError.slug})
_INPUT = frozenset({InvalidRequestError.slug})


def _encode_job(job: EvalJob) -> dict[str, Any]:
    if job.actor is not None:
        # Security: the committer authenticates every release from the token digest
        # itself; a message can never name who is asking.
        raise WireError("a job with an authenticated actor cannot cross")
    if job.input_error is None:
        # One encoding of 16 bytes, not a decoding: the id is canonical if it is this.
        if b64e(job.cid) != job.cid_text or len(job.cid) != CONTAINER_ID_BYTES:
            raise WireError("a job without an input error needs its decoded container id")
        cid: str | None = job.cid_text
    else:
        cid = valid_container_id(job.cid_text)
    if (job.digest is None) == (job.auth_error is None):
        raise WireError("a job has either a token digest or an authentication refusal")
    return {
        "auth_error": None if job.auth_error is None else encode_refusal(job.auth_error),
        "cid": cid,
        "digest": None if job.digest is None else job.digest.hex(),
        "header_digest": None if job.header_digest is None else job.header_digest.hex(),
        "input_error": None if job.input_error is None else encode_refusal(job.input_error),
        "remote": job.ctx.remote,
    }


def _decode_job(value: Any, what: str) -> EvalJob:
    doc = _object(value, _JOB_KEYS, what)
    auth_error = _optional(doc["auth_error"], decode_refusal, f"{what}.auth_error", _AUTH)
    input_error = _optional(doc["input_error"], decode_refusal, f"{what}.input_error", _INPUT)
    digest = _optional(doc["digest"], _hex, f"{what}.digest", _DIGEST_BYTES)
    if (digest is None) == (auth_error is None):
        raise WireError(f"{what} needs either a token digest or an authentication refusal")
    cid_text = _optional(doc["cid"], _text, f"{what}.cid", 64)
    cid = b""
    if cid_text is not None:
        try:
            cid = decode_container_id(cid_text)
        except InvalidRequestError as exc:
            raise WireError(f"{what}.cid is not a container id") from exc
    elif input_error is None:
        raise WireError(f"{what} without a container id needs its input error")
    return EvalJob(
        cid_text or "",
        RequestContext(remote=_optional(doc["remote"], _text, f"{what}.remote", _REMOTE_MAX)),
        digest=digest,
        auth_error=auth_error,  # an UnauthenticatedError: its slug was checked
        # As jobs.bearer_job builds it: the decoded id, or none beside an input error.
        cid=b"" if input_error is not None else cid,
        input_error=input_error,
        header_digest=_optional(doc["header_digest"], _hex, f"{what}.header_digest", _DIGEST_BYTES),
    )


def encode_jobs(jobs: Sequence[EvalJob]) -> bytes:
    """A worker's batch as the committer receives it (without the blinded elements).

    Raises:
        WireError: A job that cannot cross (see the module docstring), or too many.
    """
    if not 1 <= len(jobs) <= MAX_JOBS:
        raise WireError(f"a batch holds 1..{MAX_JOBS} jobs")
    return _dumps({"jobs": [_encode_job(j) for j in jobs]})


def decode_jobs(data: bytes) -> list[EvalJob]:
    """The jobs of a worker's message.

    Raises:
        WireError: Anything but exactly the schema's jobs message.
    """
    doc = _object(_loads(data), frozenset({"jobs"}), "message")
    jobs = doc["jobs"]
    if not isinstance(jobs, list) or not 1 <= len(jobs) <= MAX_JOBS:
        raise WireError(f"jobs must be a list of 1..{MAX_JOBS}")
    return [_decode_job(j, f"jobs[{i}]") for i, j in enumerate(jobs)]


# --------------------------------------------------------------------------------------
# Committer -> worker

_RELEASE_WIRE_KEYS = frozenset(
    {
        "attempts_limit",
        "attempts_remaining",
        "challenge",
        "expires",
        "generation",
        "mode",
        "password_required",
        "sealed",
    }
)


def _encode_release(release: Mapping[str, Any]) -> dict[str, Any]:
    if release.keys() != _RELEASE_KEYS:
        # Exactly these: the opened seed or anything added later must not cross unseen.
        raise WireError(f"a release holds exactly {sorted(_RELEASE_KEYS)}")
    sealed, generation = release["_sealed"]
    challenge, expires = release["_challenge"], release["_expires"]
    return {
        "attempts_limit": release["attempts_limit"],
        "attempts_remaining": release["attempts_remaining"],
        "challenge": None if challenge is None else challenge.hex(),
        "expires": None if expires is None else format_time(expires),
        "generation": generation,
        "mode": release["_mode"],
        "password_required": release["password_required"],
        "sealed": sealed.hex(),
    }


def _time(value: Any, what: str) -> datetime:
    text = _text(value, what, 32)
    try:
        parsed = datetime.fromisoformat(text)  # then only format_time's spelling (below)
    except ValueError as exc:
        raise WireError(f"{what} is not an audit-log time") from exc
    if format_time(parsed) != text:
        raise WireError(f"{what} is not an audit-log time")
    return parsed


def _decode_release(value: Any, what: str) -> dict[str, Any]:
    doc = _object(value, _RELEASE_WIRE_KEYS, what)
    if doc["mode"] not in ("read", "seal"):
        raise WireError(f"{what}.mode must be read or seal")
    if type(doc["password_required"]) is not bool:
        raise WireError(f"{what}.password_required must be true or false")
    limit = doc["attempts_limit"]
    if limit is not None and limit not in _LIMITS:
        raise WireError(f"{what}.attempts_limit is not an allowance")
    return {
        "_sealed": (
            _hex(doc["sealed"], f"{what}.sealed"),
            _int(doc["generation"], f"{what}.generation"),
        ),
        "_challenge": _optional(doc["challenge"], _hex, f"{what}.challenge", CHALLENGE_BYTES),
        "_expires": _optional(doc["expires"], _time, f"{what}.expires"),
        "attempts_remaining": _optional(
            doc["attempts_remaining"], _int, f"{what}.attempts_remaining"
        ),
        "attempts_limit": limit,
        "password_required": doc["password_required"],
        "_mode": doc["mode"],
    }


def outcome_doc(outcome: dict[str, Any] | KeyServerError | str) -> dict[str, Any]:
    """One outcome as OUTCOME: a release (dict), a refusal, or a failure's name.

    Checked one by one, so that an outcome that cannot cross fails alone (the committer
    answers it as a failure, hostcommit.to_wire).

    Raises:
        WireError: The outcome cannot cross.
    """
    if isinstance(outcome, KeyServerError):
        return {"refusal": encode_refusal(outcome)}
    if isinstance(outcome, str) and outcome in FAILURES:
        return {"failure": outcome}
    if isinstance(outcome, dict):
        return {"release": _encode_release(outcome)}
    raise WireError(f"an outcome of type {type(outcome).__name__} cannot cross")


def encode_outcomes(docs: Sequence[dict[str, Any]]) -> bytes:
    """The committer's answer from :func:`outcome_doc`'s documents, one per job in order."""
    return _dumps({"outcomes": list(docs)})


def decode_outcomes(data: bytes, count: int) -> list[dict[str, Any] | KeyServerError | str]:
    """The committer's answer to a batch of ``count`` jobs; a failure as its name.

    Raises:
        WireError: Anything but exactly ``count`` outcomes of the schema.
    """
    doc = _object(_loads(data), frozenset({"outcomes"}), "message")
    items = doc["outcomes"]
    if not isinstance(items, list) or len(items) != count:
        raise WireError("the release committer answered another number of jobs")
    out: list[dict[str, Any] | KeyServerError | str] = []
    for i, item in enumerate(items):
        what = f"outcomes[{i}]"
        if not isinstance(item, dict) or len(item) != 1:
            raise WireError(f"{what} must be an object of one member")
        [(kind, value)] = item.items()
        if kind == "release":
            out.append(_decode_release(value, what))
        elif kind == "refusal":
            out.append(decode_refusal(value, what))
        elif kind == "failure" and value in FAILURES:
            out.append(str(value))
        else:
            raise WireError(f"{what} is not a release, a refusal or a failure")
    return out
