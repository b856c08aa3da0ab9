"""rwc key server: releases per-container VOPRF evaluations, audited, revocable.

spec §protocol (spec/protocol.md) is the normative description of the HTTP API.

Public Python API (stable; used by the ``keyserver`` CLI and the tests):

- :class:`keyserver.settings.Settings` (``load``, ``for_data_dir``, ``load_master_key``)
  and :func:`keyserver.settings.known_env`.
- :func:`keyserver.db.init_database`, :func:`keyserver.db.migrate`.
- :class:`keyserver.service.KeyService`: every operation, each taking an acting
  :class:`keyserver.lifecycle.Actor` (``KeyService.local_actor(name)`` for local mode).
- :func:`keyserver.app.create_app`, :func:`keyserver.app.app_from_env` (uvicorn factory),
  :func:`keyserver.app.serve`.
- :func:`keyserver.testing.running_server`, :func:`keyserver.testing.bootstrap_principal`.
"""
