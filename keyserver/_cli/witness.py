"""``keyserver witness``: an independent witness of one or more rwc transparency logs.

spec §transparency "Witness". Run by someone other than the city (the prefecture, a
neighbouring city), on another machine, with a state directory of its own::

    keyserver witness init --state-dir DIR --name prefecture.example/witness
    keyserver witness add-log --state-dir DIR --url https://keys.city.example --log-key VKEY
    keyserver witness run --state-dir DIR [--every 60s]

``run`` fetches each log's newest checkpoint, verifies the log's signature and that it
extends the checkpoint this witness cosigned last (RFC 9162 consistency proof), cosigns it
(C2SP tlog-cosignature/v1) and sends the cosignature to the log. A fork or rollback is
refused: nothing is cosigned, the state stays, and the refused checkpoint is kept under
``refused/`` as evidence. State files are replaced atomically; the key file is 0600.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keyserver._cli.errors import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    CliError,
)
from keyserver._cli.files import create_secret, write_bytes
from keyserver._cli.logfetch import log_request
from keyserver._cli.remote import check_server_url
from keyserver._domain.i18n import N_
from keyserver._domain.transparency import TransparencyError
from keyserver._domain.transparency.checkpoint import Checkpoint
from keyserver._domain.transparency.cosignature import cosign
from keyserver._domain.transparency.note import (
    COSIGNATURE_V1,
    ED25519,
    Note,
    SignerKey,
    VerifierKey,
    parse_note,
)
from keyserver._domain.transparency.witness import ForkError, check_signed, decide

if TYPE_CHECKING:
    import argparse

    from keyserver._cli.context import Context

KEY_FILE = "witness.key"
LOGS_FILE = "logs.json"
TIMEOUT = 30.0


def add_parser(add: Any) -> None:
    """Register ``witness`` and its actions on the main parser (``add(name, help)``)."""
    sub = add("witness", N_("witness other key servers' transparency logs (own state dir)").msgid)
    actions = sub.add_subparsers(dest="sub", metavar="ACTION", parser_class=type(sub))
    actions.required = True
    for name, text in (
        ("init", N_("create the witness key (0600) in the state directory").msgid),
        ("key", N_("print the witness's public key (give it to the logs it witnesses)").msgid),
        ("add-log", N_("witness a log: its URL and its public key").msgid),
        ("run", N_("fetch, verify, cosign and send (once, or --every DURATION)").msgid),
    ):
        p = actions.add_parser(name, help=text, description=text)
        p.add_argument(
            "--state-dir",
            metavar="DIR",
            default=os.environ.get("KEYSERVER_WITNESS_DIR"),
            help=N_("the witness's own directory (KEYSERVER_WITNESS_DIR)").msgid,
        )
        p.add_argument("--json", action="store_true", help=N_("machine-readable output").msgid)
        if name == "init":
            p.add_argument(
                "--name", required=True, help=N_("witness name, e.g. pref.example/w1").msgid
            )
        if name == "add-log":
            p.add_argument("--url", required=True, help=N_("the key server's base URL").msgid)
            p.add_argument("--log-key", required=True, help=N_("the log's public key (vkey)").msgid)
        if name == "run":
            p.add_argument(
                "--every", metavar="DURATION", help=N_("repeat, e.g. 60s (default once)").msgid
            )


@dataclass(frozen=True)
class _Log:
    url: str
    key: VerifierKey

    @property
    def slug(self) -> str:
        return hashlib.sha256(self.key.encode().encode()).hexdigest()[:16]


def _state_dir(args: argparse.Namespace) -> Path:
    if not args.state_dir:
        raise CliError(
            N_("no witness state directory"),
            hint=N_("pass --state-dir DIR or set KEYSERVER_WITNESS_DIR"),
            exit_code=EXIT_USAGE,
        )
    return Path(args.state_dir)


def _key(state: Path) -> SignerKey:
    path = state / KEY_FILE
    try:
        if path.stat().st_mode & 0o077:
            raise CliError(
                N_("%(path)s is accessible to group or others", path=path), exit_code=EXIT_CONFIG
            )
        return SignerKey.parse(path.read_text(encoding="ascii"))
    except FileNotFoundError as exc:
        raise CliError(
            N_("no witness key in %(state)s", state=state),
            hint=N_("run `keyserver witness init --state-dir DIR --name NAME` first"),
            exit_code=EXIT_CONFIG,
        ) from exc
    except (OSError, TransparencyError) as exc:
        raise CliError(
            N_("cannot read the witness key %(path)s: %(reason)s", path=path, reason=exc),
            exit_code=EXIT_CONFIG,
        ) from exc


def _logs(state: Path) -> list[_Log]:
    path = state / LOGS_FILE
    if not path.exists():
        return []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return [_Log(d["url"], VerifierKey.parse(d["log_key"])) for d in raw]
    except (OSError, ValueError, KeyError, TypeError, TransparencyError) as exc:
        raise CliError(
            N_("%(path)s is damaged: %(reason)s", path=path, reason=exc), exit_code=EXIT_CONFIG
        ) from exc


def _get(url: str, ca_bundle: str | None, params: dict[str, int] | None = None) -> bytes:
    status, body = log_request("GET", url, ca_bundle=ca_bundle, params=params)
    if status != 200:
        raise CliError(
            N_("%(url)s answered %(status)s", url=url, status=status), exit_code=EXIT_UNAVAILABLE
        )
    return body


def _last(state: Path, log: _Log) -> Checkpoint | None:
    path = state / "state" / f"{log.slug}.checkpoint"
    if not path.exists():
        return None
    try:
        return Checkpoint.parse(path.read_text(encoding="utf-8"))
    except (OSError, TransparencyError) as exc:
        raise CliError(
            N_("%(path)s is damaged: %(reason)s", path=path, reason=exc), exit_code=EXIT_CONFIG
        ) from exc


def witness_once(
    state: Path, key: SignerKey, log: _Log, now: int, ca_bundle: str | None = None
) -> dict[str, Any]:
    """One round for one log; returns what happened. Raises ForkError on a fork."""
    note = parse_note(_get(log.url + "/v1/tlog/checkpoint", ca_bundle))
    cp = check_signed(log.key, note)
    last = _last(state, log)
    proof: list[bytes] = []
    if last is not None and 0 < last.size < cp.size:
        doc = json.loads(
            _get(
                log.url + "/v1/tlog/proof/consistency",
                ca_bundle,
                {"old": last.size, "new": cp.size},
            )
        )
        proof = [bytes.fromhex(h) for h in doc["proof"]]
    try:
        decide(log.key, last, note, proof)
    except ForkError:
        refused = state / "refused"
        refused.mkdir(mode=0o700, exist_ok=True)
        evidence = (
            note.encode()
            + b"\n# consistency proof\n"
            + b"".join(p.hex().encode() + b"\n" for p in proof)
        )
        write_bytes(refused / f"{log.slug}-{cp.size}-{now}.txt", evidence, replace=True, mode=0o644)
        raise
    body = cp.body()
    signed = Note(body, (*note.signatures, cosign(key, body, now)))
    status, _ = log_request(
        "POST",
        log.url + "/v1/tlog/cosignatures",
        ca_bundle=ca_bundle,
        body={"checkpoint": signed.encode().decode("utf-8")},
    )
    (state / "state").mkdir(mode=0o700, exist_ok=True)
    # The state advances whether or not the log took the cosignature: what matters for
    # the witness is what it signed, and it signed this.
    write_bytes(
        state / "state" / f"{log.slug}.checkpoint", body.encode("utf-8"), replace=True, mode=0o644
    )
    return {"log": log.key.name, "size": cp.size, "sent": status == 200}


def cmd_witness(ctx: Context) -> int:
    """``keyserver witness init|key|add-log|run``."""
    args = ctx.args
    state = _state_dir(args)
    if args.sub == "init":
        state.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = state / KEY_FILE
        if path.exists():
            raise CliError(
                N_("%(path)s exists already; it is kept", path=path), exit_code=EXIT_CONFIG
            )
        try:
            key = SignerKey.generate(args.name, COSIGNATURE_V1)
        except TransparencyError as exc:
            raise CliError(
                N_("witness name: %(reason)s", reason=exc), exit_code=EXIT_USAGE
            ) from exc
        create_secret(path, (key.encode() + "\n").encode("ascii"))
        ctx.out.text(key.verifier().encode())
        return EXIT_OK
    key = _key(state)
    if args.sub == "key":
        ctx.out.text(key.verifier().encode())
        return EXIT_OK
    if args.sub == "add-log":
        url = check_server_url(args.url)
        try:
            log_key = VerifierKey.parse(args.log_key)
        except TransparencyError as exc:
            raise CliError(N_("--log-key: %(reason)s", reason=exc), exit_code=EXIT_USAGE) from exc
        if log_key.key_type != ED25519:
            raise CliError(N_("--log-key is not a log key (type 0x01)"), exit_code=EXIT_USAGE)
        logs = [lg for lg in _logs(state) if lg.key != log_key]
        logs.append(_Log(url, log_key))
        doc = [{"url": lg.url, "log_key": lg.key.encode()} for lg in logs]
        write_bytes(
            state / LOGS_FILE, json.dumps(doc, indent=2).encode() + b"\n", replace=True, mode=0o644
        )
        ctx.out.text(N_("witnessing %(log)s at %(url)s", log=log_key.name, url=url))
        return EXIT_OK
    return _run(ctx, state, key)


def _detail(exc: Exception) -> object:
    """An error's detail: its catalogue message (said in the command's language) or text."""
    return exc.args[0] if exc.args else ""


def _run(ctx: Context, state: Path, key: SignerKey) -> int:
    from keyserver._cli.config import parse_duration  # noqa: PLC0415 - only for --every

    logs = _logs(state)
    if not logs:
        raise CliError(
            N_("no logs to witness"), hint=N_("add one with `keyserver witness add-log`")
        )
    every = (
        parse_duration(ctx.args.every, flag="--every").total_seconds() if ctx.args.every else 0.0
    )
    ca = ctx.resolved.command.get("ca_bundle")
    ca_bundle = str(ca) if ca else None
    while True:
        code = EXIT_OK
        for log in logs:
            try:
                done = witness_once(state, key, log, int(time.time()), ca_bundle)
            except ForkError as exc:
                ctx.out.error(
                    N_(
                        "REFUSED to cosign %(log)s: %(reason)s",
                        log=log.key.name,
                        reason=_detail(exc),
                    )
                )
                code = EXIT_FAILURE
                continue
            except TransparencyError as exc:
                ctx.out.error(
                    N_(
                        "%(log)s: the checkpoint does not verify: %(reason)s",
                        log=log.key.name,
                        reason=_detail(exc),
                    )
                )
                code = EXIT_FAILURE
                continue
            except CliError as exc:
                ctx.out.error(N_("%(log)s: %(reason)s", log=log.key.name, reason=exc.shown_message))
                code = max(code, exc.exit_code)
                continue
            if ctx.args.json:
                ctx.out.json(done)
            else:
                ctx.out.text(
                    N_("cosigned %(log)s at %(size)s entries", log=done["log"], size=done["size"])
                )
        if every <= 0:
            return code
        time.sleep(every)
