"""Configuration of the ``keyserver`` command: flags > ``KEYSERVER_*`` env > TOML file.

Two kinds of keys:

- **settings** of the key server (fields of :class:`keyserver._domain.settings.Settings`:
  ``database_url``, ``contact``, ``loss_waiting_period``...), loaded by
  :meth:`Settings.load`, which also reads ``<data-dir>/keyserver.toml``;
- **command** keys that are not server settings: ``server`` (remote mode URL), ``token``
  (env only: ``KEYSERVER_TOKEN``), ``config`` (the TOML file), ``as`` (local acting
  principal), ``ca_bundle``, and the ``serve`` options ``host``, ``port``, ``workers``,
  ``tls_cert``, ``tls_key``.

The optional TOML file named by ``--config`` / ``KEYSERVER_CONFIG`` may hold both kinds.
Its settings keys rank below the environment: they are fed to :meth:`Settings.load` as if
they were ``KEYSERVER_*`` variables, and the real environment is laid over them.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from keyserver._cli.errors import EXIT_CONFIG, EXIT_USAGE, CliError
from keyserver._domain.durations import EXAMPLES, DurationError
from keyserver._domain.durations import parse_duration as domain_parse_duration
from keyserver._domain.i18n import N_
from keyserver._domain.settings import ENV_PREFIX, ConfigError, Settings

# Keys of the command itself; never passed to Settings.load (it refuses unknown keys).
COMMAND_KEYS = frozenset(
    {
        "server",
        "token",
        "config",
        "as",
        "ca_bundle",
        "host",
        "port",
        "workers",
        "tls_cert",
        "tls_key",
        "lang",  # KEYSERVER_LANG: the language of texts for people (keyserver._domain.i18n)
    }
)
# Help for the settings flags: every flag says what it does (issue 9), so a field added to
# Settings needs its line here (SETTING_FLAGS fails on import without one).
_SETTING_HELP = {
    "database_url": N_("SQLAlchemy URL (postgresql+psycopg://... for several instances)").msgid,
    "master_key_file": N_(
        "file holding the 32-byte master key (default DATA_DIR/master.key)"
    ).msgid,
    "hsm_module": N_("PKCS#11 module of the HSM holding the master key's wrapping key").msgid,
    "hsm_token_label": N_("label of the HSM token holding the wrapping key").msgid,
    "hsm_key_label": N_("label of the wrapping key in the HSM token (default rwc-master)").msgid,
    "hsm_pin_file": N_("file (0600) holding the HSM user PIN (or KEYSERVER_HSM_PIN)").msgid,
    "server_id": N_("identifier of this key server in registration responses").msgid,
    "contact": N_("whom a refused person should contact (carried in every refusal)").msgid,
    "pending_ttl": N_("how long a registered container may stay uncommitted (e.g. 24h)").msgid,
    "challenge_ttl": N_("lifetime of a receipt challenge (e.g. 5m)").msgid,
    "default_attempt_budget": N_("unconfirmed evaluations before self-suspension").msgid,
    "loss_waiting_period": N_(
        "default delay between a loss report and destruction (e.g. 72h)"
    ).msgid,
    "max_waiting_period_days": N_("largest waiting period an official may ask for").msgid,
    "max_body_bytes": N_("request bodies above this are refused (413)").msgid,
    "max_list_limit": N_("largest page size of list endpoints (1..1000)").msgid,
    "audit_inline_ids_max": N_("bulk operations list affected ids in the audit up to this").msgid,
    "sweep_interval": N_("period of the background sweep in `serve` (0 disables it)").msgid,
    "trust_proxy": N_("take the client address from X-Forwarded-For (true/false)").msgid,
    "busy_timeout_ms": N_("SQLite busy timeout in milliseconds").msgid,
    "pool_size": N_("database connection pool size").msgid,
    "display_timezone": N_(
        "IANA zone the console shows times in (e.g. Asia/Tokyo; default: local)"
    ).msgid,
    "console_idle_timeout": N_("a console session unused this long ends (e.g. 30m)").msgid,
    "console_max_age": N_("a console session ends this long after sign-in (e.g. 12h)").msgid,
    "approval_required": N_(
        "actions a second official must approve: destroy-container, destroy-medium, "
        "destroy-issuer, privileged-token (commas), or none"
    ).msgid,
    "approval_ttl": N_("how long a request waits for its second approver (e.g. 24h)").msgid,
    "sqlite_synchronous": N_(
        "SQLite synchronous pragma: FULL (default: every committed audit entry survives "
        "power loss), EXTRA, NORMAL or OFF"
    ).msgid,
    "db_connect_timeout": N_(
        "longest wait to open a database connection (PostgreSQL; e.g. 5s)"
    ).msgid,
    "db_statement_timeout": N_(
        "longest a database statement may run before a 503 (e.g. 10s)"
    ).msgid,
    "db_lock_timeout": N_(
        "longest wait for a row lock such as the audit chain head (e.g. 5s)"
    ).msgid,
    "db_idle_in_transaction_timeout": N_(
        "PostgreSQL ends a session idle inside a transaction after this long (e.g. 15s)"
    ).msgid,
    "sweep_max_clock_jump": N_(
        "the sweep destroys nothing (and alarms) when the clock is this far ahead of "
        "the last audit entry (e.g. 30d)"
    ).msgid,
    "require_medium": N_("refuse to register a container without a medium (true/false)").msgid,
    "host_committer": N_(
        "with --workers N: one process commits every worker's key releases (true/false)"
    ).msgid,
    "principal_attempt_cap": N_(
        "unconfirmed evaluations one principal may have across all containers within "
        "--attempt-window"
    ).msgid,
    "medium_attempt_cap": N_(
        "unconfirmed evaluations on one medium's containers within --attempt-window, "
        "whoever made them"
    ).msgid,
    "attempt_window": N_("sliding window of the two attempt caps (e.g. 24h)").msgid,
    "short_waiting_period": N_(
        "a loss report's waiting period below this asks to confirm, as --now does (e.g. 24h)"
    ).msgid,
    "log_key_file": N_("the transparency log's signing key (default DATA_DIR/log.key)").msgid,
    "checkpoint_interval": N_(
        "period of the transparency log's signed checkpoints in `serve` (0 disables them; e.g. 10s)"
    ).msgid,
    "witness_keys": N_(
        "verifier keys of the witnesses whose cosignatures are accepted (commas)"
    ).msgid,
    "report_min_cosignatures": N_(
        "witness cosignatures a signed report needs (default: one if any witness is configured)"
    ).msgid,
}
# Not flags: injected callables, the data directory (a common option), and the master key
# and the HSM PIN themselves (security: a secret on the command line shows in `ps`).
_NOT_FLAGS = frozenset({"clock", "monotonic", "rng", "data_dir", "master_key_b64", "hsm_pin"})
SETTING_FLAGS: tuple[tuple[str, str], ...] = tuple(
    (f.name, _SETTING_HELP[f.name])
    for f in dataclasses.fields(Settings)
    if f.name not in _NOT_FLAGS
)
# Settings that take a duration (keyserver._domain.durations: "72h", "30m", "10s", "7d").
DURATION_SETTINGS = frozenset(
    f.name for f in dataclasses.fields(Settings) if isinstance(f.default, timedelta)
)


def parse_duration(text: str, *, flag: str) -> timedelta:
    """Parse a duration flag with the one grammar (keyserver._domain.durations).

    Raises:
        CliError: The text is not a duration (usage error), with how to write one.
    """
    try:
        return domain_parse_duration(text, name=flag)
    except DurationError as exc:
        raise CliError(
            str(exc),
            hint=N_("write a whole number and a unit, %(examples)s", examples=EXAMPLES),
            exit_code=EXIT_USAGE,
        ) from None


def read_toml(path: Path) -> dict[str, Any]:
    """Read the ``--config`` TOML file.

    Raises:
        CliError: The file is missing or not valid TOML (configuration error).
    """
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise CliError(
            N_("config file %(path)s does not exist", path=path), exit_code=EXIT_CONFIG
        ) from exc
    except OSError as exc:
        raise CliError(
            N_("cannot read config file %(path)s: %(strerror)s", path=path, strerror=exc.strerror),
            exit_code=EXIT_CONFIG,
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise CliError(
            N_("config file %(path)s is not valid TOML: %(reason)s", path=path, reason=exc),
            exit_code=EXIT_CONFIG,
        ) from exc


@dataclass(frozen=True)
class Resolved:
    """The command's configuration after applying precedence.

    Attributes:
        command: Command keys (server, as, host, port, ...), flags > env > TOML.
        settings_env: The environment to hand to :meth:`Settings.load` (TOML settings keys
            as ``KEYSERVER_*`` under the real ``KEYSERVER_*`` variables, command keys removed).
        data_dir: The data directory from ``--data-dir`` / env / TOML, if any.
        data_dir_from_flag: Whether ``--data-dir`` was given on the command line.
        server_from_flag: Whether ``--server`` was given on the command line.
        token: ``KEYSERVER_TOKEN`` (remote mode), or None.
    """

    command: dict[str, Any]
    settings_env: dict[str, str]
    data_dir: Path | None
    data_dir_from_flag: bool
    server_from_flag: bool
    token: str | None


def resolve(flags: Mapping[str, Any], env: Mapping[str, str]) -> Resolved:
    """Merge flags, environment and the optional TOML file.

    Args:
        flags: Command keys given on the command line (None = not given), plus
            ``data_dir`` and ``config``.
        env: The process environment.

    Returns:
        The resolved configuration.

    Raises:
        CliError: The TOML file cannot be read.
    """
    config_path = flags.get("config") or env.get(ENV_PREFIX + "CONFIG")
    toml: dict[str, Any] = read_toml(Path(config_path)) if config_path else {}
    if "token" in toml:
        # Security: a token in a config file is too easily committed or shared.
        raise CliError(
            N_("the config file must not hold a token"),
            hint=N_("pass the token in KEYSERVER_TOKEN"),
            exit_code=EXIT_CONFIG,
        )
    command: dict[str, Any] = {k: v for k, v in toml.items() if k in COMMAND_KEYS}
    for key in COMMAND_KEYS - {"token", "config"}:
        env_value = env.get(ENV_PREFIX + key.upper())
        if env_value is not None:
            command[key] = env_value
        if flags.get(key) is not None:
            command[key] = flags[key]
    settings_env = {
        ENV_PREFIX + k.upper(): str(v) for k, v in toml.items() if k not in COMMAND_KEYS
    }
    settings_env.update(
        {
            k: v
            for k, v in env.items()
            if k.startswith(ENV_PREFIX) and k[len(ENV_PREFIX) :].lower() not in COMMAND_KEYS
        }
    )
    dd_flag = flags.get("data_dir")
    dd_raw = dd_flag or settings_env.get(ENV_PREFIX + "DATA_DIR")
    return Resolved(
        command=command,
        settings_env=settings_env,
        data_dir=Path(dd_raw) if dd_raw else None,
        data_dir_from_flag=dd_flag is not None,
        server_from_flag=flags.get("server") is not None,
        token=env.get(ENV_PREFIX + "TOKEN") or None,
    )


def load_settings(resolved: Resolved, overrides: Mapping[str, Any]) -> Settings:
    """Build the server settings for a local command.

    Args:
        resolved: The resolved configuration.
        overrides: Settings given as flags (None = not given).

    Raises:
        CliError: No data directory / database, or an invalid setting.
    """
    if resolved.data_dir is None and not (
        overrides.get("database_url") or resolved.settings_env.get(ENV_PREFIX + "DATABASE_URL")
    ):
        raise CliError(
            N_("no data directory"),
            hint=N_("pass --data-dir DIR or set KEYSERVER_DATA_DIR (or use --server URL)"),
            exit_code=EXIT_CONFIG,
        )
    try:
        return Settings.load(
            data_dir=resolved.data_dir, overrides=dict(overrides), env=resolved.settings_env
        )
    except ConfigError as exc:
        raise CliError(N_("configuration: %(reason)s", reason=exc), exit_code=EXIT_CONFIG) from exc
