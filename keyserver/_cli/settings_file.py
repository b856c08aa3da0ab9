"""``keyserver init`` keeps the settings it is given in ``DATA_DIR/keyserver.toml``.

Every later command reads that file (:meth:`Settings.load`), so a setting given to
``init`` once (``--display-timezone Asia/Tokyo``) holds for ``serve``, ``report`` and the
rest without being repeated; a newcomer who had to write the file by hand found the flag
accepted and then forgotten (issue 12). Without a data directory there is no such file:
``init`` then refuses the settings it could not keep, except those that say where the
database and the keys are, which every command needs given again anyway.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from keyserver._cli.errors import EXIT_CONFIG, EXIT_USAGE, CliError
from keyserver._cli.files import written
from keyserver._domain.i18n import N_
from keyserver._domain.settings import (
    CONFIG_FILE_NAME,
    ConfigError,
    coerce_setting,
    read_config_file,
)

# Where the database and the keys are: given to every command (flag, KEYSERVER_* or a
# --config file), so init may take them without a data directory to keep them in.
LOCATION_SETTINGS = frozenset(
    {
        "database_url",
        "master_key_file",
        "log_key_file",
        "hsm_module",
        "hsm_token_label",
        "hsm_key_label",
        "hsm_pin_file",
    }
)


# Files named relative to where init ran: kept absolute, so that a command run from another
# directory (a service unit's) finds the same file. A PKCS#11 module may be a bare library
# name the loader searches for, so it is kept as given.
_FILES = frozenset({"master_key_file", "log_key_file", "hsm_pin_file"})


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _text(name: str, value: str) -> str:
    """A flag's text as it is kept (paths made absolute)."""
    return str(Path(value).absolute()) if name in _FILES else value


def _same(name: str, kept: Any, given: Any) -> bool:
    """Whether the file's value and the flag's mean the same (``72h`` is ``3d``)."""
    try:
        return bool(coerce_setting(name, kept) == coerce_setting(name, given))
    except ConfigError:
        return False


def _toml_lines(values: Mapping[str, str]) -> str:
    """``key = "value"`` lines; checked by parsing them back, so no value can break the file."""
    # A JSON string is a valid TOML basic string (the same escapes, \\uXXXX for controls).
    text = "".join(
        f"{key} = {json.dumps(value, ensure_ascii=False)}\n" for key, value in values.items()
    )
    if tomllib.loads(text) != dict(values):
        raise CliError(N_("a setting cannot be written to keyserver.toml"), exit_code=EXIT_CONFIG)
    return text


def _write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with a file of mode 0600.

    The file may hold ``database_url`` with its password: 0600 like every secret file
    (DEVELOPERS.md, rules of the house), whatever mode a hand-written one had.
    """
    # The one publish (keyserver/_cli/files.py): replaced whole, never half-written.
    with written(path, replace=True) as staged, os.fdopen(os.dup(staged.fd), "wb") as fh:
        fh.write(data)


def keep(data_dir: Path | None, given: Mapping[str, str]) -> Callable[[], None]:
    """Keep the settings given to ``init`` as flags; return how to undo it.

    Args:
        data_dir: The data directory, or None (``--database-url`` alone).
        given: The settings given as flags, as typed (already validated by loading them).

    Returns:
        A function that puts the file back as it was (init failed after this step).

    Raises:
        CliError: No data directory for settings that need one (usage error), or
            ``keyserver.toml`` already sets one of them to another value.
    """
    if data_dir is None:
        lost = sorted(_flag(name) for name in given if name not in LOCATION_SETTINGS)
        if lost:
            raise CliError(
                N_("without a data directory, init cannot keep %(value)s", value=", ".join(lost)),
                hint=N_(
                    "pass --data-dir DIR (init writes DIR/keyserver.toml), or give these "
                    "settings to every command in KEYSERVER_* variables or a --config file"
                ),
                exit_code=EXIT_USAGE,
            )
        return lambda: None
    path = data_dir / CONFIG_FILE_NAME
    try:
        before: bytes | None = path.read_bytes()
    except FileNotFoundError:
        before = None
    except OSError as exc:
        raise CliError(
            N_("cannot read %(path)s: %(strerror)s", path=path, strerror=exc.strerror),
            exit_code=EXIT_CONFIG,
        ) from exc
    try:
        existing = read_config_file(data_dir)
    except ConfigError as exc:
        raise CliError(str(exc), exit_code=EXIT_CONFIG) from exc
    wanted = {name: _text(name, value) for name, value in given.items()}
    for name in wanted:
        if name in existing and not _same(name, existing[name], given[name]):
            # Flags win over the file for this run only: init would act on one value
            # and every later command on the other. Values are not repeated: a
            # database_url may carry a password.
            raise CliError(
                N_(
                    "%(path)s sets %(name)s to another value than %(value)s",
                    path=path,
                    name=name,
                    value=_flag(name),
                ),
                hint=N_(
                    "change %(name)s in %(path)s, or run init without %(value)s",
                    name=name,
                    path=path,
                    value=_flag(name),
                ),
                exit_code=EXIT_CONFIG,
            )
    new = {name: value for name, value in wanted.items() if name not in existing}
    if not new:
        return lambda: None
    old = before or b""
    head = old if not old or old.endswith(b"\n") else old + b"\n"
    _write_private(path, head + _toml_lines(new).encode("utf-8"))

    def undo() -> None:
        if before is None:
            path.unlink(missing_ok=True)
        else:
            _write_private(path, before)

    return undo
