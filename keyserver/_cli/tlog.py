"""``keyserver log-key`` and ``keyserver checkpoint``: the transparency log on a data directory.

spec §transparency. Both are local: the log key lives beside the master key on the
key-server host. Officials and auditors elsewhere use ``POST /v1/tlog/checkpoint``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from keyserver._cli.config import load_settings
from keyserver._cli.errors import EXIT_CONFIG, EXIT_OK, CliError
from keyserver._cli.files import create_secret
from keyserver._cli.local import default_actor_name, guard, open_service
from keyserver._domain.i18n import N_
from keyserver._domain.logkey import default_origin, load_log_key, new_log_key
from keyserver._domain.transparency.note import SignerKey

if TYPE_CHECKING:
    from keyserver._cli.context import Context


def create_log_key(path: Path, origin: str) -> SignerKey:
    """Create a new log key file (0600, never overwriting: :func:`files.create_secret`).

    spec §transparency: the log key is a file of its own, never derived from the master key.

    Raises:
        CliError: The origin is not a valid key name (configuration), the file exists, or
            it cannot be written.
    """
    key = guard(lambda: new_log_key(origin))
    create_secret(path, (key.encode() + "\n").encode("ascii"))
    return key


def cmd_log_key(ctx: Context) -> int:
    """``keyserver log-key [--create [--origin NAME]]``: show (or create) the log's key."""
    ctx.require_local()
    settings = load_settings(ctx.resolved, ctx.setting_overrides())
    path = settings.log_key_file
    if path is None:
        raise CliError(
            N_("no log key file is configured"),
            hint=N_("pass --data-dir DIR or --log-key-file FILE"),
            exit_code=EXIT_CONFIG,
        )
    key = guard(lambda: load_log_key(settings))
    if key is None:
        if not ctx.args.create:
            raise CliError(
                N_("there is no log key at %(path)s", path=path),
                hint=N_("create one with `keyserver log-key --create`, then restart the server"),
                exit_code=EXIT_CONFIG,
            )
        origin = ctx.args.origin or default_origin(settings)
        key = create_log_key(path, origin)
        ctx.out.note(N_("created the log key %(path)s (mode 0600)", path=path))
    elif ctx.args.create:
        ctx.out.note(N_("%(path)s exists already; it is kept", path=path))
    vkey = key.verifier().encode()
    if ctx.out.as_json:
        ctx.out.json({"origin": key.name, "log_key": vkey, "file": str(path)})
    else:
        # The public key only: give it to witnesses and publish it (spec §transparency).
        ctx.out.text(vkey)
    return EXIT_OK


def cmd_checkpoint(ctx: Context) -> int:
    """``keyserver checkpoint``: hash new audit entries and sign a checkpoint now."""
    ctx.require_local()
    settings = load_settings(ctx.resolved, ctx.setting_overrides())
    service = open_service(settings)
    try:
        actor = guard(lambda: service.local_actor(ctx.opt("as_") or default_actor_name()))
        doc = guard(lambda: service.checkpoint(actor))
    finally:
        service.close()
    if ctx.out.as_json:
        ctx.out.json(doc)
    else:
        ctx.out.text(str(doc["checkpoint"]).rstrip("\n"))
    return EXIT_OK
