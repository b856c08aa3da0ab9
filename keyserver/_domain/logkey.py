"""The transparency log's signing key on disk (spec §transparency "Keys").

One line, the signed-note private key string ``PRIVATE+KEY+<origin>+<key ID>+<base64>``,
in a file of its own with mode 0600 (``<data-dir>/log.key``, created by ``keyserver init``
or ``keyserver log-key --create`` by the command's one policy for new secret files,
keyserver/_cli/files.py ``create_secret``). It is separate from the master key on purpose:
the master key opens every sealed seed and must stay on the server; the log key only
signs tree heads, so it can be rotated (a new origin, announced to the witnesses) or held
elsewhere without touching a container, and a leak of one does not give the other.
"""

from __future__ import annotations

import stat

from keyserver._domain.settings import ConfigError, Settings
from keyserver._domain.transparency import TransparencyError
from keyserver._domain.transparency.note import SignerKey, VerifierKey


def default_origin(settings: Settings) -> str:
    """The log origin for a new key: ``<server_id>/audit`` (operators may pass their own)."""
    return f"{settings.server_id}/audit".replace(" ", "-").replace("+", "-")


def new_log_key(origin: str) -> SignerKey:
    """A new log key for ``origin`` (its file is written by ``keyserver``: cli/tlog.py).

    Raises:
        ConfigError: The origin is not a valid key name.
    """
    try:
        return SignerKey.generate(origin)
    except TransparencyError as exc:
        raise ConfigError(f"log origin {origin!r}: {exc}") from exc


def load_log_key(settings: Settings) -> SignerKey | None:
    """The configured log key, or None when this server keeps no transparency log.

    Raises:
        ConfigError: The file is unreadable, readable by group or others, or malformed.
    """
    path = settings.log_key_file
    if path is None or not path.exists():
        return None
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read log key file {path}") from exc
    # spec §transparency: a signing key others can read is a forged checkpoint waiting.
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"log key file {path} is accessible to group or others (chmod 600)")
    try:
        return SignerKey.parse(text)
    except TransparencyError as exc:
        raise ConfigError(f"log key file {path}: {exc}") from exc


def witness_keys(settings: Settings) -> list[VerifierKey]:
    """The configured witnesses (cosignature/v1 verifier keys).

    Raises:
        ConfigError: A key is malformed or not a witness key.
    """
    keys = []
    for text in settings.witness_keys.replace(",", " ").split():
        try:
            key = VerifierKey.parse(text)
        except TransparencyError as exc:
            raise ConfigError(f"witness key {text[:40]!r}: {exc}") from exc
        if key.key_type != 0x04:
            raise ConfigError(f"witness key {key.name} is not a cosignature/v1 key (type 0x04)")
        keys.append(key)
    return keys


def min_cosignatures(settings: Settings) -> int:
    """Cosignatures a report's checkpoint needs (default: 1 when witnesses are configured)."""
    if settings.report_min_cosignatures >= 0:
        return settings.report_min_cosignatures
    return 1 if settings.witness_keys.strip() else 0
