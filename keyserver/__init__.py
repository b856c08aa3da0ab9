"""rwc key server: releases per-container VOPRF evaluations, audited, revocable.

spec §protocol (spec/protocol.md) is the normative description of the HTTP API; the
``keyserver`` command (README.md) is the interface for people.

The public Python API is what this module exports, and :mod:`keyserver.testing`:

- :class:`Settings` (``load``, ``for_data_dir``, ``load_master_key``).
- :func:`init_database`, :func:`migrate`.
- :class:`KeyService`: every operation, each taking an acting :class:`Actor`
  (``KeyService.local_actor(name)`` for local mode).
- :func:`create_app` (``create_app(settings)``); ``keyserver:app_factory`` is the uvicorn
  factory (settings from KEYSERVER_*, as ``keyserver serve`` reads them).
- :func:`keyserver.testing.running_server`, :func:`keyserver.testing.bootstrap_principal`,
  :class:`keyserver.testing.PromptStopServer` (a uvicorn server that stops when asked).

Everything else lives in the private layer packages (``_domain`` < ``_store`` < ``_release`` <
``_service`` < ``_http`` < ``_cli``; DEVELOPERS.md has the map): they change whenever the
implementation does, as python-tuf's and sigstore's ``_internal`` do.

The names are resolved on first use (PEP 562): the ``keyserver`` command imports this
package for every run, and most commands need neither SQLAlchemy nor FastAPI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The distribution's one version (pyproject.toml builds it from pycontainer.__version__):
# `keyserver --version` prints this object, so it cannot differ from `rwc --version`, and
# no command pays for importlib.metadata reading the same string back (issue 15).
from pycontainer import __version__ as __version__

if TYPE_CHECKING:
    from keyserver._cli.host import app_factory as app_factory
    from keyserver._domain.lifecycle import Actor as Actor
    from keyserver._domain.settings import Settings as Settings
    from keyserver._http.app import create_app as create_app
    from keyserver._service import KeyService as KeyService
    from keyserver._store import init_database as init_database
    from keyserver._store import migrate as migrate

#: Public name -> the private module that defines it.
_WHERE = {
    "Actor": "keyserver._domain.lifecycle",
    "KeyService": "keyserver._service",
    "Settings": "keyserver._domain.settings",
    "app_factory": "keyserver._cli.host",
    "create_app": "keyserver._http.app",
    "init_database": "keyserver._store",
    "migrate": "keyserver._store",
}

__all__ = [
    "Actor",
    "KeyService",
    "Settings",
    "app_factory",
    "create_app",
    "init_database",
    "migrate",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'keyserver' has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
