"""``keyserver rotate-master-key``: move every secret to a new master key while serving.

spec §rotation. Local only (it needs the database and both keys):

    keyserver rotate-master-key --data-dir DIR --to-file /etc/rwc/master-2.key
    keyserver rotate-master-key --data-dir DIR --to-hsm-key rwc-master-2   # file or HSM -> HSM
    # point every instance at the new key, restart them, then, with the new key configured:
    keyserver rotate-master-key --data-dir DIR --finish [--old-key-file /etc/rwc/master.key]
    keyserver rotate-master-key --data-dir DIR --status

Run again after a crash or Ctrl-C with the same target: it resumes where the rows say it
stopped. The server keeps serving throughout (short transactions, both keys accepted).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keyserver._cli.config import load_settings
from keyserver._cli.errors import EXIT_CONFIG, EXIT_OK, EXIT_USAGE, CliError
from keyserver._domain.i18n import N_
from keyserver._domain.settings import MASTER_KEY_BYTES, Settings
from pycontainer.cli.strictargs import file_name

# The parser imports this module for add_parser on every `keyserver` start; the database,
# the service and the HSM (about a CPU second of imports) are imported by the command that
# runs, as keyserver/_cli/commands.py does for local mode.
if TYPE_CHECKING:
    from keyserver._cli.context import Context
    from keyserver._service.rotation import RotationOps

DEFAULT_BATCH = 200
# An audited progress entry every this many batches (and one at start and at the end).
PROGRESS_EVERY = 20


def add_parser(add: Any, settings_flags: Any) -> None:
    """Register ``rotate-master-key`` on the main parser (``add(name, help)``)."""
    p = add(
        "rotate-master-key",
        N_("re-seal every container secret under a new master key, while the server serves").msgid,
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--to-file",
        type=file_name,
        metavar="FILE",
        help=N_("new key file (created 0600 if absent)").msgid,
    )
    what.add_argument(
        "--to-hsm-key", metavar="LABEL", help=N_("new HSM wrapping key (created if absent)").msgid
    )
    what.add_argument(
        "--finish",
        action="store_true",
        help=N_("after a rotation, with the NEW key configured: destroy the old key").msgid,
    )
    what.add_argument("--status", action="store_true", help=N_("show the key generations").msgid)
    p.add_argument(
        "--to-hsm-module", metavar="LIB", help=N_("HSM of the new key (default: hsm_module)").msgid
    )
    p.add_argument(
        "--to-hsm-token-label",
        metavar="TOKEN",
        help=N_("its token (default: hsm_token_label)").msgid,
    )
    p.add_argument(
        "--to-hsm-pin-file",
        type=file_name,
        metavar="FILE",
        help=N_("its PIN file (default: hsm_pin_file, or KEYSERVER_HSM_PIN)").msgid,
    )
    p.add_argument(
        "--old-key-file",
        type=file_name,
        metavar="FILE",
        help=N_("with --finish: the old key file, checked and then overwritten and removed").msgid,
    )
    p.add_argument(
        "--batch",
        type=int,
        default=DEFAULT_BATCH,
        help=N_("rows per transaction (default 200)").msgid,
    )
    settings_flags(p, listed=True)


def _target(ctx: Context, settings: Settings) -> Settings:
    """The settings of the new key (its file, or its HSM key), created if absent."""
    from keyserver._cli.host import write_master_key  # noqa: PLC0415 - see the imports
    from keyserver._cli.local import guard  # noqa: PLC0415
    from keyserver._cli.masterkey import prepare_hsm  # noqa: PLC0415

    args = ctx.args
    if args.to_file:
        path = Path(args.to_file)
        if not path.exists():
            write_master_key(path, settings.rng(MASTER_KEY_BYTES))
            ctx.out.note(N_("created the new master key file %(path)s (0600)", path=path))
        target = settings.replace(
            master_key_file=path, master_key_b64=None, hsm_module=None, hsm_pin_file=None
        )
        return target
    module = args.to_hsm_module or settings.hsm_module
    token = args.to_hsm_token_label or settings.hsm_token_label
    if module is None or not token:
        raise CliError(
            N_("--to-hsm-key needs the HSM: --to-hsm-module and --to-hsm-token-label"),
            hint=N_("or configure hsm_module and hsm_token_label (the current key's HSM)"),
            exit_code=EXIT_USAGE,
        )
    target = guard(
        lambda: settings.replace(
            master_key_file=None,
            master_key_b64=None,
            hsm_module=Path(module),
            hsm_token_label=token,
            hsm_key_label=args.to_hsm_key,
            hsm_pin_file=Path(args.to_hsm_pin_file)
            if args.to_hsm_pin_file
            else settings.hsm_pin_file,
        )
    )
    guard(lambda: prepare_hsm(ctx, target))
    return target


def cmd_rotate_master_key(ctx: Context) -> int:
    """``keyserver rotate-master-key``: start or resume, finish, or show the status."""
    ctx.require_local()
    from keyserver._cli.local import default_actor_name, guard, open_service  # noqa: PLC0415
    from keyserver._service.rotation import RotationOps  # noqa: PLC0415 - see the imports

    settings = load_settings(ctx.resolved, ctx.setting_overrides())
    service = open_service(settings)
    try:
        ops = RotationOps(service.ledger)
        actor = guard(lambda: service.local_actor(ctx.opt("as_") or default_actor_name()))
        if ctx.args.status:
            ctx.out.rows(
                guard(ops.status)["generations"],
                ("generation", "source", "state", "hsm_key_label", "rows"),
                title=N_("key generations"),
            )
            return EXIT_OK
        if ctx.args.finish:
            return _finish(ctx, settings, ops, actor)
        if ctx.args.batch < 1:
            raise CliError(N_("--batch must be at least 1"), exit_code=EXIT_USAGE)
        return _rotate(ctx, _target(ctx, settings), ops, actor)
    finally:
        service.close()


def _rotate(ctx: Context, target: Settings, ops: RotationOps, actor: Any) -> int:
    from keyserver._cli.local import guard  # noqa: PLC0415 - see the imports

    begun = guard(lambda: ops.begin(actor, target))
    to = int(begun["to"])
    total = ops.remaining(to)
    values = {"old": begun["from"], "new": to, "total": total}
    if begun["resumed"]:
        said = N_(
            "resuming the rotation from generation %(old)s to %(new)s: %(total)s rows to re-seal",
            **values,
        )
    else:
        said = N_(
            "rotating from generation %(old)s to %(new)s: %(total)s rows to re-seal", **values
        )
    ctx.out.note(said)
    moved = batches = 0
    while True:
        n = guard(lambda: ops.step(to, ctx.args.batch))
        moved += n
        batches += 1
        if n:
            ctx.out.note(N_("re-sealed %(moved)s of %(total)s rows", moved=moved, total=total))
            if batches % PROGRESS_EVERY == 0:
                guard(functools.partial(ops.progress, actor, to, moved))
            continue
        # Nothing left in this pass; rows registered under the old key meanwhile (an
        # instance that had not seen the rotation yet) make complete() say "not yet".
        if guard(functools.partial(ops.complete, actor, to, moved)):
            break
    ctx.out.record(
        {"generation": to, "re_sealed": moved, "old_generation": to - 1},
        title=N_("rotation done"),
    )
    ctx.out.note(
        N_(
            "next: configure every instance with the new key, restart them, then run "
            "`keyserver rotate-master-key --finish` with the new key configured"
        )
    )
    return EXIT_OK


def _finish(ctx: Context, settings: Settings, ops: RotationOps, actor: Any) -> int:
    from keyserver._cli.local import guard  # noqa: PLC0415 - see the imports
    from keyserver._store import hsm  # noqa: PLC0415

    status = guard(ops.status)["generations"]
    old = next((g for g in status if g["state"] == "old"), None)
    if old is None:
        raise CliError(N_("no finished rotation awaits --finish"), exit_code=EXIT_CONFIG)
    # spec §cli: a destructive action says what it destroys, in the official's language.
    if old["source"] == "hsm":
        what = N_("the HSM key %(label)s", label=repr(old["hsm_key_label"]))
    elif ctx.args.old_key_file:
        what = N_("the old key file %(path)s", path=ctx.args.old_key_file)
    else:
        what = N_("the old key file")
    ctx.confirm(
        N_(
            "Destroy master-key generation %(generation)s (%(what)s)? Every backup, WAL "
            "segment and replica taken before the rotation becomes useless for good.",
            generation=old["generation"],
            what=what,
        )
    )
    old_file = Path(ctx.args.old_key_file) if ctx.args.old_key_file else None
    if old_file is not None:
        _check_old_file(old_file, ops, int(old["generation"]))
    result = guard(lambda: ops.finish(actor))
    ctx.out.record(result, title=N_("old master key destroyed"))
    if result["source"] == "hsm":
        label = str(result["hsm_key_label"])
        if settings.uses_hsm:
            guard(lambda: hsm.destroy_key(settings, label))
            ctx.out.note(N_("destroyed the HSM key %(label)s", label=repr(label)))
        else:
            ctx.out.note(
                N_("now destroy the HSM key %(label)s with the HSM's own tools", label=repr(label))
            )
    elif old_file is not None:
        _erase(old_file)
        ctx.out.note(N_("overwrote and removed %(path)s", path=old_file))
    else:
        ctx.out.note(N_("now destroy the old master key file and every copy of it"))
    return EXIT_OK


def _check_old_file(path: Path, ops: RotationOps, generation: int) -> None:
    """Refuse to erase a file that is not the old key (e.g. the new one by mistake)."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise CliError(N_("cannot read %(path)s", path=path), exit_code=EXIT_CONFIG) from exc
    if not ops.is_key_of(generation, content):
        raise CliError(
            N_(
                "%(path)s is not the key of generation %(generation)s; nothing was changed",
                path=path,
                generation=generation,
            ),
            hint=N_("name the key file of the generation being destroyed"),
            exit_code=EXIT_CONFIG,
        )


def _erase(path: Path) -> None:
    """Overwrite with zeros, sync, remove (what a file system allows; spec §erasure)."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, bytes(os.fstat(fd).st_size))
        os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink()
