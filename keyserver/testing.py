"""Test helpers (public, stable): run a real server on loopback, make principals.

Example::

    settings = Settings(database_url="sqlite:///...", master_key_b64=...)
    init_database(settings)
    admin = bootstrap_principal(settings, "alice", ["writer"])
    with running_server(settings) as base_url:
        requests.post(base_url + "/v1/containers", headers={"Authorization": ...}, ...)
"""

from __future__ import annotations

import base64
import contextlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from keyserver.domain.lifecycle import ROLES, Actor
from keyserver.domain.settings import Settings
from keyserver.http.app import create_app
from keyserver.service import KeyService

BOOTSTRAP_ACTOR = "bootstrap"


def new_master_key_b64() -> str:
    """A fresh random master key, base64url (for ``Settings.master_key_b64``)."""
    return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode("ascii")


def sqlite_settings(directory: os.PathLike[str] | str, **overrides: object) -> Settings:
    """Settings for a fresh SQLite database in ``directory`` (no background sweep)."""
    fields: dict[str, object] = {
        "database_url": f"sqlite:///{os.fspath(directory)}/keyserver.db",
        "master_key_b64": new_master_key_b64(),
        "sweep_interval": 0,
    }
    fields.update(overrides)
    return Settings.load(overrides=fields, env={})


@contextmanager
def running_server(
    settings: Settings, timeout: float = 20.0, app: Any | None = None
) -> Iterator[str]:
    """Run ``create_app(settings)`` (or ``app``) with uvicorn on 127.0.0.1, an ephemeral port.

    Yields:
        The base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash).
    """
    if app is None:
        app = create_app(settings)
    # proxy_headers=False: the app alone decides whether X-Forwarded-For is trusted
    # (Settings.trust_proxy); uvicorn would otherwise rewrite the client address.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", proxy_headers=False
    )
    server = uvicorn.Server(config)

    def run() -> None:
        # uvicorn exits the process (SystemExit) when start-up fails, e.g. a master key
        # that does not match the database; in a thread that only ends the thread.
        with contextlib.suppress(SystemExit):
            server.run()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the key server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)


def bootstrap_principal(
    settings: Settings,
    name: str,
    roles: list[str],
    groups: list[str] | None = None,
    organisation: str | None = None,
) -> str:
    """Create a principal directly in the database; return its bearer token.

    Audited under the actor ``bootstrap``. The database must be initialised
    (:func:`keyserver.store.init_database`).
    """
    service = KeyService(settings)
    try:
        actor = Actor(name=BOOTSTRAP_ACTOR, roles=ROLES, local=True)
        result = service.add_principal(
            actor, name, roles, organisation=organisation, groups=groups or []
        )
    finally:
        service.close()
    token = result["token"]
    assert isinstance(token, str)
    return token
