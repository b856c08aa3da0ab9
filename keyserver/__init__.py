"""rwc key server: releases per-container VOPRF evaluations, audited, revocable.

spec §protocol (spec/protocol.md) is the normative description of the HTTP API.

Public Python API (stable; used by the ``keyserver`` CLI and the tests):

- :class:`keyserver.domain.settings.Settings` (``load``, ``for_data_dir``, ``load_master_key``).
- :func:`keyserver.store.init_database`, :func:`keyserver.store.migrate`.
- :class:`keyserver.service.KeyService`: every operation, each taking an acting
  :class:`keyserver.domain.lifecycle.Actor` (``KeyService.local_actor(name)`` for local mode).
- :func:`keyserver.http.app.create_app`; ``keyserver.cli.host:app_factory`` is the uvicorn
  factory (settings from KEYSERVER_*, as ``keyserver serve`` reads them).
- :func:`keyserver.testing.running_server`, :func:`keyserver.testing.bootstrap_principal`,
  :class:`keyserver.testing.PromptStopServer` (a uvicorn server that stops when asked).
"""
