"""Key server configuration: one frozen dataclass, loaded flags > env > TOML file.

Nothing here opens a database or reads a key at import time: callers build a
:class:`Settings` and pass it explicitly (no module-level engine or settings).
Time (``clock``) and randomness (``rng``) are injectable so tests control both.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from keyserver._domain.approvals import DEFAULT_RULES, Rule, parse_rules
from keyserver._domain.budget import ATTEMPT_BUDGET_MAX
from keyserver._domain.database_url import check_database_url
from keyserver._domain.durations import DurationError, parse_duration
from keyserver._domain.paging import LIST_LIMIT_MAX

ENV_PREFIX = "KEYSERVER_"
CONFIG_FILE_NAME = "keyserver.toml"
DB_FILE_NAME = "keyserver.db"
MASTER_KEY_FILE_NAME = "master.key"
MASTER_KEY_BYTES = 32
LOG_KEY_FILE_NAME = "log.key"


def utc_now() -> datetime:
    """Return the current time, timezone-aware UTC (the default clock)."""
    return datetime.now(UTC)


class ConfigError(ValueError):
    """The configuration is invalid or the master key cannot be loaded."""


_DURATIONS = {
    "pending_ttl",
    "challenge_ttl",
    "loss_waiting_period",
    "sweep_interval",
    "attempt_window",
    "short_waiting_period",
    "checkpoint_interval",
    "console_idle_timeout",
    "console_max_age",
    "db_connect_timeout",
    "db_statement_timeout",
    "db_lock_timeout",
    "db_idle_in_transaction_timeout",
    "sweep_max_clock_jump",
    "approval_ttl",
}
# Fail fast (issue 14): a database in trouble must give a prompt 503, never a hang.
_DB_TIMEOUTS = (
    "db_connect_timeout",
    "db_statement_timeout",
    "db_lock_timeout",
    "db_idle_in_transaction_timeout",
)
_INTS = {
    "default_attempt_budget",
    "max_body_bytes",
    "busy_timeout_ms",
    "max_list_limit",
    "max_waiting_period_days",
    "audit_inline_ids_max",
    "pool_size",
    "principal_attempt_cap",
    "medium_attempt_cap",
    "report_min_cosignatures",
}
_BOOLS = {"trust_proxy", "require_medium", "host_committer"}
_PATHS = {"master_key_file", "data_dir", "log_key_file", "hsm_module", "hsm_pin_file"}
_STRS = {
    "database_url",
    "master_key_b64",
    "server_id",
    "contact",
    "sqlite_synchronous",
    "witness_keys",
    "display_timezone",
    "hsm_token_label",
    "hsm_key_label",
    "approval_required",
}
# Secrets that come only from the environment (never a flag, never the TOML file).
_ENV_ONLY = {ENV_PREFIX + "MASTER_KEY": "master_key_b64", ENV_PREFIX + "HSM_PIN": "hsm_pin"}
_LOADABLE = _DURATIONS | _INTS | _BOOLS | _PATHS | _STRS


@dataclass(frozen=True)
class Settings:
    """Everything the key server is configured with.

    Attributes:
        database_url: SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg://...``).
        master_key_file: File holding the 32-byte master key (created 0600 by init).
        master_key_b64: Alternatively the master key as base64url (KEYSERVER_MASTER_KEY).
        hsm_module: PKCS#11 module (shared library) of the HSM holding the master key's
            wrapping key; set, it replaces the master key file (spec §keys-at-rest).
        hsm_token_label: Label of the HSM token (slot) holding the wrapping key.
        hsm_key_label: Label of the wrapping key in that token.
        hsm_pin_file: File holding the token's user PIN (0600); or KEYSERVER_HSM_PIN.
        hsm_pin: The user PIN from KEYSERVER_HSM_PIN (environment only, never logged).
        data_dir: The data directory, when the settings came from one.
        server_id: Identifies this key server in registration responses.
        contact: Who to contact about a refusal; carried in every refusal problem.
        pending_ttl: How long a registered container may stay uncommitted.
        challenge_ttl: Lifetime of a receipt challenge.
        default_attempt_budget: Unconfirmed evaluations in a row before self-suspension.
        loss_waiting_period: Default delay between a loss report and destruction.
        max_waiting_period_days: Upper bound an official may request as waiting period.
        max_body_bytes: Request bodies above this are refused (413) before parsing.
        max_list_limit: Largest page size for list endpoints.
        audit_inline_ids_max: Bulk operations list affected ids in the audit entry up to
            this count; above it only their count and SHA-256 digest are recorded.
        sweep_interval: Period of the background sweep in the server (0 disables it).
        trust_proxy: Take the client address from ``X-Forwarded-For`` (only behind a proxy).
        busy_timeout_ms: SQLite busy timeout, and the longest a writer waits for the
            writer lock (then 503).
        db_connect_timeout: Longest wait to open a database connection (PostgreSQL).
        db_statement_timeout: Longest a statement may run (PostgreSQL ``statement_timeout``)
            and, on the client side, the longest a connection in use may go without an
            answer before its socket is closed (keyserver/_store/deadline.py): a frozen
            network path then gives a 503 instead of a hang. Also the wait for a free
            pooled connection.
        db_lock_timeout: Longest wait for a row lock, e.g. the audit chain head
            (PostgreSQL ``lock_timeout``).
        db_idle_in_transaction_timeout: The server ends a session idle inside a
            transaction after this long (``idle_in_transaction_session_timeout``), so one
            stuck instance cannot hold the chain-head lock against the others.
        sqlite_synchronous: SQLite ``synchronous`` pragma; FULL (default) makes every
            committed audit entry survive power loss.
        pool_size: Connection pool size (PostgreSQL).
        sweep_max_clock_jump: The sweep destroys nothing (and alarms) when the clock is
            further than this ahead of the last audit entry (keyserver/_domain/clockguard.py).
        require_medium: Refuse to register a container without a medium (spec §media).
        host_committer: With ``serve --workers N`` (N > 1, Linux), one process commits
            every worker's releases (spec §consistency, keyserver/_release/hostcommit.py).
            Off by default until a quiet bench run shows it faster than each worker
            committing its own (bench/profiles/keyserver.md).
        principal_attempt_cap: Unconfirmed evaluations one principal may have across all
            containers within ``attempt_window`` (spec §receipt).
        medium_attempt_cap: Unconfirmed evaluations on the containers of one medium
            within ``attempt_window``, whoever made them (spec §receipt).
        attempt_window: The sliding window of the two caps above.
        short_waiting_period: A loss report's waiting period below this asks for a
            confirmation in the ``keyserver`` command, as ``--now`` does.
        log_key_file: The transparency log's Ed25519 signing key (signed-note private key
            string, 0600; created by init as ``<data-dir>/log.key``); None: no log.
        checkpoint_interval: Period of the background checkpointer (0 disables it).
        witness_keys: Witness verifier keys (type 0x04 vkeys), separated by commas or
            whitespace, whose cosignatures the server accepts and serves.
        report_min_cosignatures: Witness cosignatures a checkpoint needs before a signed
            report embeds it (default: one if any witness is configured).
        display_timezone: IANA zone in which times are shown to people (with their
            offset); empty: the server's local zone. JSON always carries UTC.
        console_idle_timeout: A console session unused this long is over.
        console_max_age: A console session is over this long after sign-in, used or not.
        approval_required: The irreversible actions that need a second official (admin for
            tokens) to approve them (spec §approvals): ``destroy-container``,
            ``destroy-medium`` (also a loss report with ``now``), ``destroy-issuer``,
            ``privileged-token``, separated by commas; ``none`` for none.
        approval_ttl: How long a request waits for its second approver before it expires.
        clock: Returns the current aware UTC time (injectable for tests).
        monotonic: A monotonic clock in seconds for the sweep's clock-step guard (None:
            ``time.monotonic`` with the built-in ``clock``; no monotonic check with an
            injected ``clock`` unless this is injected too).
        rng: Returns n random bytes (injectable for tests; default ``os.urandom``).
    """

    database_url: str
    master_key_file: Path | None = None
    master_key_b64: str | None = field(default=None, repr=False)
    hsm_module: Path | None = None
    hsm_token_label: str = ""
    hsm_key_label: str = "rwc-master"
    hsm_pin_file: Path | None = None
    hsm_pin: str | None = field(default=None, repr=False)
    data_dir: Path | None = None
    server_id: str = "rwc-keyserver"
    contact: str = "Contact the data protection office of the issuing organisation."
    pending_ttl: timedelta = timedelta(hours=24)
    challenge_ttl: timedelta = timedelta(minutes=5)
    default_attempt_budget: int = 10
    loss_waiting_period: timedelta = timedelta(hours=72)
    max_waiting_period_days: int = 365
    max_body_bytes: int = 64 * 1024
    max_list_limit: int = 1000
    audit_inline_ids_max: int = 1000
    sweep_interval: timedelta = timedelta(seconds=60)
    trust_proxy: bool = False
    busy_timeout_ms: int = 5000
    sqlite_synchronous: str = "FULL"
    pool_size: int = 10
    db_connect_timeout: timedelta = timedelta(seconds=5)
    db_statement_timeout: timedelta = timedelta(seconds=10)
    db_lock_timeout: timedelta = timedelta(seconds=5)
    db_idle_in_transaction_timeout: timedelta = timedelta(seconds=15)
    sweep_max_clock_jump: timedelta = timedelta(days=30)
    require_medium: bool = False
    host_committer: bool = False
    principal_attempt_cap: int = 30
    medium_attempt_cap: int = 50
    attempt_window: timedelta = timedelta(hours=24)
    short_waiting_period: timedelta = timedelta(hours=24)
    log_key_file: Path | None = None
    checkpoint_interval: timedelta = timedelta(seconds=10)
    witness_keys: str = ""
    report_min_cosignatures: int = -1
    display_timezone: str = ""
    console_idle_timeout: timedelta = timedelta(minutes=30)
    console_max_age: timedelta = timedelta(hours=12)
    approval_required: str = DEFAULT_RULES
    approval_ttl: timedelta = timedelta(hours=24)
    clock: Callable[[], datetime] = field(default=utc_now, repr=False, compare=False)
    monotonic: Callable[[], float] | None = field(default=None, repr=False, compare=False)
    rng: Callable[[int], bytes] = field(default=os.urandom, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Validate ranges so a bad configuration fails at start, not at first use."""
        for name in _DURATIONS:
            value = getattr(self, name)
            if not isinstance(value, timedelta):
                # Text from a caller follows the one duration grammar; a bare number is
                # refused here as everywhere (keyserver._domain.durations says why).
                object.__setattr__(self, name, _coerce(name, value))
        if not 1 <= self.default_attempt_budget <= ATTEMPT_BUDGET_MAX:
            raise ConfigError(f"default_attempt_budget must be in 1..{ATTEMPT_BUDGET_MAX}")
        if not 1 <= self.max_list_limit <= LIST_LIMIT_MAX:  # spec §limits; _domain/paging.py
            raise ConfigError(
                f"max_list_limit must be in 1..{LIST_LIMIT_MAX}: set KEYSERVER_MAX_LIST_LIMIT"
                f" (or max_list_limit in keyserver.toml) to at most {LIST_LIMIT_MAX}"
            )
        if self.max_body_bytes < 1024:
            raise ConfigError("max_body_bytes must be >= 1024")
        for name in (
            "pending_ttl",
            "challenge_ttl",
            "console_idle_timeout",
            "console_max_age",
            "approval_ttl",
        ):
            if getattr(self, name) <= timedelta(0):
                raise ConfigError(f"{name} must be positive")
        if self.sqlite_synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ConfigError("sqlite_synchronous must be OFF, NORMAL, FULL or EXTRA")
        try:
            check_database_url(self.database_url)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if self.loss_waiting_period < timedelta(0):
            raise ConfigError("loss_waiting_period must not be negative")
        for name in _DB_TIMEOUTS:
            if getattr(self, name) < timedelta(seconds=1):
                raise ConfigError(f"{name} must be at least 1s (a database must never hang us)")
        for name in ("principal_attempt_cap", "medium_attempt_cap"):
            if not 1 <= getattr(self, name) <= 1_000_000:
                raise ConfigError(f"{name} must be in 1..1000000")
        if self.attempt_window <= timedelta(0):
            raise ConfigError("attempt_window must be positive")
        if self.display_timezone:
            display_zone(self.display_timezone)  # fails at start, not at the first report
        if self.hsm_module is not None:
            if self.master_key_b64 is not None or self.master_key_file is not None:
                raise ConfigError(
                    "configure one master key: hsm_module, or master_key_file /"
                    " KEYSERVER_MASTER_KEY, not both"
                )
            if not self.hsm_token_label:
                raise ConfigError("hsm_module needs hsm_token_label (the token's label)")
        try:
            parse_rules(self.approval_required)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    @property
    def approval_rules(self) -> frozenset[Rule]:
        """The actions that need a second approver (parsed ``approval_required``)."""
        return parse_rules(self.approval_required)

    @classmethod
    def load(
        cls,
        data_dir: Path | None = None,
        overrides: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        """Load settings: ``overrides`` (flags) > ``KEYSERVER_*`` env > TOML file.

        Args:
            data_dir: Data directory; supplies defaults (SQLite file, master key file) and
                the optional ``keyserver.toml``. Also read from KEYSERVER_DATA_DIR.
            overrides: Values from command-line flags (``None`` values are ignored).
            env: Environment (defaults to ``os.environ``).

        Returns:
            The validated settings.

        Raises:
            ConfigError: On unknown keys, bad values or no database URL.
        """
        env = os.environ if env is None else env
        flags = {k: v for k, v in (overrides or {}).items() if v is not None}
        env_values = {
            key[len(ENV_PREFIX) :].lower(): value
            for key, value in env.items()
            if key.startswith(ENV_PREFIX) and key not in _ENV_ONLY
        }
        secrets = {name: env[key] for key, name in _ENV_ONLY.items() if key in env}
        dd_raw = flags.get("data_dir", data_dir) or env_values.get("data_dir")
        ddir = _path("data_dir", dd_raw) if dd_raw else None
        file_values = read_config_file(ddir)
        merged: dict[str, Any] = {}
        for source in (file_values, env_values, flags):
            for key, value in source.items():
                if key not in _LOADABLE:
                    raise ConfigError(f"unknown setting {key!r}")
                merged[key] = _coerce(key, value)
        merged.update(secrets)
        if ddir is not None:
            merged["data_dir"] = ddir
            merged.setdefault("database_url", f"sqlite:///{ddir / DB_FILE_NAME}")
            if "master_key_b64" not in merged and "hsm_module" not in merged:
                merged.setdefault("master_key_file", ddir / MASTER_KEY_FILE_NAME)
            merged.setdefault("log_key_file", ddir / LOG_KEY_FILE_NAME)
        if "database_url" not in merged:
            raise ConfigError("no database: pass --data-dir or set KEYSERVER_DATABASE_URL")
        return cls(**merged)

    @classmethod
    def for_data_dir(cls, path: Path, **overrides: Any) -> Settings:
        """Settings for a data directory: SQLite ``keyserver.db`` and ``master.key`` in it.

        Args:
            path: The data directory.
            **overrides: Field values that win over env and the TOML file.
        """
        return cls.load(data_dir=path, overrides=overrides)

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @property
    def uses_hsm(self) -> bool:
        """The master key's wrapping key is in an HSM (spec §keys-at-rest)."""
        return self.hsm_module is not None

    def load_hsm_pin(self) -> str:
        """Return the HSM user PIN from KEYSERVER_HSM_PIN or ``hsm_pin_file``.

        Raises:
            ConfigError: No PIN configured, or the file is unreadable or open to others.
        """
        if self.hsm_pin is not None:
            return self.hsm_pin
        if self.hsm_pin_file is None:
            raise ConfigError("no HSM PIN: set KEYSERVER_HSM_PIN or hsm_pin_file")
        try:
            st = self.hsm_pin_file.stat()
            text = self.hsm_pin_file.read_text(encoding="utf-8")
        except (OSError, UnicodeError) as exc:
            raise ConfigError(f"cannot read the HSM PIN file {self.hsm_pin_file}") from exc
        if st.st_mode & 0o077:
            # spec §keys-at-rest: a secret others may read is refused, like the key file.
            raise ConfigError(
                f"HSM PIN file {self.hsm_pin_file} is accessible to group or others"
                f" (chmod 600 {self.hsm_pin_file})"
            )
        return text.strip()

    def load_master_key(self) -> bytes:
        """Return the 32-byte master key from ``master_key_b64`` or ``master_key_file``.

        Raises:
            ConfigError: If no key is configured or it is not exactly 32 bytes.
        """
        if self.master_key_b64 is not None:
            text = self.master_key_b64.strip()
            try:
                key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            except (binascii.Error, ValueError) as exc:
                raise ConfigError("KEYSERVER_MASTER_KEY is not base64url") from exc
        elif self.master_key_file is not None:
            try:
                key = self.master_key_file.read_bytes()
            except OSError as exc:
                raise ConfigError(f"cannot read master key file {self.master_key_file}") from exc
        else:
            raise ConfigError("no master key configured")
        if len(key) != MASTER_KEY_BYTES:
            raise ConfigError("the master key must be exactly 32 bytes")
        return key


def read_config_file(data_dir: Path | None) -> dict[str, Any]:
    """The settings in ``<data_dir>/keyserver.toml`` (none without the directory or file).

    Raises:
        ConfigError: The file cannot be read or is not TOML.
    """
    if data_dir is None or not (data_dir / CONFIG_FILE_NAME).is_file():
        return {}
    path = data_dir / CONFIG_FILE_NAME
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc


# spec §cli, §operations: every /v1 answer names the configured display_timezone here,
# so `keyserver --server` run elsewhere shows the city's times (not its own machine's).
DISPLAY_ZONE_HEADER = "RWC-Display-Timezone"


def display_zone(name: str) -> tzinfo:
    """The zone times are shown in: the IANA zone ``name``, or the local zone if empty.

    Raises:
        ConfigError: ``name`` is not a zone of the installed tz database.
    """
    if not name:
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"display_timezone {name!r} is not a time zone (e.g. Asia/Tokyo, UTC)"
        ) from exc


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(text)


def coerce_setting(key: str, value: Any) -> Any:
    """Convert a TOML/env/flag value of the setting ``key`` to the field's type.

    Raises:
        ConfigError: The value does not convert.
    """
    return _coerce(key, value)


def _path(key: str, value: Any) -> Path:
    """A file or directory setting; ``-`` is refused.

    Not stdin or stdout (these files are read, created or locked by name), and never a file
    named ``-`` in the working directory: ``init --master-key-file -`` wrote the master key
    there (issue 9). ``./-`` names such a file.

    Raises:
        ConfigError: The value is ``-``.
    """
    if str(value) == "-":
        raise ConfigError(f"{key}: needs a file name: - (stdin or stdout) cannot be used here")
    return Path(value)


def _coerce(key: str, value: Any) -> Any:
    """Convert a TOML/env/flag value to the field's type."""
    if key in _PATHS:
        return _path(key, value)
    try:
        if key in _DURATIONS:
            if isinstance(value, timedelta):
                return value
            # spec §limits: one grammar for flags, KEYSERVER_* and TOML ("72h", not "72").
            return parse_duration(value, name=key)
        if key in _INTS:
            return int(value)
        if key in _BOOLS:
            return _boolean(value)
        return str(value)
    except DurationError as exc:
        raise ConfigError(str(exc)) from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid value for {key}") from exc
