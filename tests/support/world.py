"""A key server over HTTP with one principal per role, and the requests tests make to it."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from voprf import ristretto as r

from keyserver._domain.lifecycle import ROLES, Actor
from keyserver._domain.settings import Settings
from keyserver._service import KeyService

# The client's receipt MAC (pycontainer), never the server's own function: a fault the two
# shared could not fail a test (issue 9; tests/keyserver/test_receipts.py pins both).
from pycontainer.format.keyschedule import receipt_mac
from tests.support import http_client


@dataclass
class World:
    """A server with one principal per role, and helpers to talk to it."""

    settings: Settings
    url: str
    tokens: dict[str, str] = field(default_factory=dict)
    clients: dict[str | None, httpx.Client] = field(default_factory=dict)
    # Principals named otherwise than their roles (make_world's ``names``).
    names: dict[str, str] = field(default_factory=dict)

    def client(self, who: str | None) -> httpx.Client:
        # One client per principal (a client is cheap over the shared TLS context, but it
        # keeps its connection to the server open from request to request).
        if who not in self.clients:
            headers = {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}
            self.clients[who] = http_client.client(base_url=self.url, headers=headers, timeout=30)
        return self.clients[who]

    def call(self, who: str | None, method: str, path: str, **kw: Any) -> httpx.Response:
        return self.client(who).request(method, path, **kw)

    def close(self) -> None:
        for c in self.clients.values():
            c.close()


ROLE_PRINCIPALS = {
    "admin": ["admin"],
    "writer": ["writer"],
    "reader": ["reader"],
    "official": ["official"],
    "auditor": ["auditor"],
    "outsider": ["reader"],  # a reader not on any policy
    "groupie": ["reader"],  # a reader allowed through a group
}


def make_world(settings: Settings, url: str, names: Mapping[str, str] | None = None) -> World:
    """A world whose principals are named as their roles, or as ``names`` says for some
    (``{"reader": "clerk@city.example"}``: what officials' pages show of real staff);
    ``tokens`` is keyed by the role's name either way."""
    w = World(settings=settings, url=url, names=dict(names or {}))
    service = KeyService(settings)
    actor = Actor(name="bootstrap", roles=ROLES, local=True)
    try:
        for name, roles in ROLE_PRINCIPALS.items():
            groups = ["team-a"] if name == "groupie" else []
            doc = service.add_principal(actor, w.names.get(name, name), roles, "City", groups)
            w.tokens[name] = doc["token"]
    finally:
        service.close()
    return w


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def register(w: World, who: str = "writer", **kw: Any) -> dict[str, Any]:
    body = {
        "label": "export-2026-11",
        "medium": "usb-0001",
        "readers": [w.names.get("reader", "reader")],
        "reader_groups": ["team-a"],
        "not_after": None,
        "password_required": True,
        "attempt_budget": None,
    }
    body.update(kw)
    resp = w.call(who, "POST", "/v1/containers", json=body)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def oprf(w: World, who: str, cid: str, public_key: str, data: bytes = b"pw") -> dict[str, Any]:
    """Run a real VOPRF round trip; returns the response plus the finalized output."""
    client, blinded = r.Client.blind(b"rwc/v1 oprf input" + unb64(cid) + data)
    resp = w.call(
        who,
        "POST",
        f"/v1/containers/{cid}/evaluate",
        json={"blinded_element": b64(blinded.serialize())},
    )
    assert resp.status_code == 200, resp.text
    doc = dict(resp.json())
    out = r.VerifiableOutput.deserialize(unb64(doc["proof"]) + unb64(doc["evaluated_element"]))
    doc["output"] = client.finalize(out, r.PublicKey.deserialize(unb64(public_key)))
    return doc


def blinded_b64() -> str:
    _, blinded = r.Client.blind(b"x")
    return b64(blinded.serialize())


def refused_as_suspended(w: World, who: str, cid: str) -> None:
    """A release attempt by ``who`` that the server refuses: the container is suspended."""
    refused = w.call(
        who, "POST", f"/v1/containers/{cid}/evaluate", json={"blinded_element": blinded_b64()}
    )
    assert refused.json()["type"] == "urn:rwc:problem:suspended", refused.text


def activate(w: World, **kw: Any) -> tuple[dict[str, Any], bytes]:
    """Register, seal-evaluate and commit; returns (registration, receipt_key)."""
    reg = register(w, **kw)
    oprf(w, "writer", reg["container_id"], reg["public_key"])
    receipt_key = os.urandom(32)
    resp = w.call(
        "writer",
        "POST",
        f"/v1/containers/{reg['container_id']}/commit",
        json={"header_digest": b64(os.urandom(32)), "receipt_key": b64(receipt_key)},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"container_id": reg["container_id"], "state": "active"}
    return reg, receipt_key


def confirm(w: World, who: str, cid: str, receipt_key: bytes, released: dict[str, Any]) -> None:
    """Send the receipt of a release (an :func:`oprf` answer): the opening is confirmed."""
    mac = receipt_mac(receipt_key, unb64(cid), unb64(released["challenge"]))
    resp = w.call(
        who,
        "POST",
        f"/v1/containers/{cid}/receipt",
        json={"challenge": released["challenge"], "mac": b64(mac)},
    )
    assert resp.status_code == 200, resp.text
