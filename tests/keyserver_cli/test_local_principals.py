"""``keyserver`` in local mode: principals and tokens, and who the audit log says acted.

In-process, on SQLite; effects are checked through the service layer.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from keyserver._domain.errors import UnauthenticatedError


def test_principals_and_tokens(cli: Any, h: ModuleType, data_dir: Any) -> None:
    dd = data_dir.path
    result = cli(
        "principal",
        "add",
        "clerk@city.example",
        "--role",
        "reader",
        "--role",
        "auditor",
        "--group",
        "benefits",
        "--organisation",
        "Amagasaki City",
        "--data-dir",
        dd,
    )
    assert result.code == 0, result
    token = h.TOKEN_RE.findall(result.out)[0]
    service = h.local_service(data_dir)
    try:
        clerk = service.authenticate(token)
        assert clerk.roles == frozenset({"reader", "auditor"})
        assert clerk.groups == frozenset({"benefits"})
    finally:
        service.close()

    listed = cli("principal", "list", "--data-dir", dd, "--json")
    assert listed.code == 0
    names = {p["name"]: p for p in listed.json()}
    assert names["clerk@city.example"]["organisation"] == "Amagasaki City"
    assert "clerk@city.example" in cli("principal", "list", "--data-dir", dd).out

    second = cli(
        "token", "create", "clerk@city.example", "--expires-in", "30d", "--json", "--data-dir", dd
    )
    assert second.code == 0, second
    doc = second.json()
    assert doc["expires_at"] is not None and h.TOKEN_RE.fullmatch(doc["token"])

    tokens = cli("token", "list", "--json", "--data-dir", dd).json()
    ids = [t["token_id"] for t in tokens if t["name"] == "clerk@city.example"]
    assert len(ids) == 2
    assert all("token" not in t and "hash" not in json.dumps(t) for t in tokens)

    revoked = cli("token", "revoke", doc["token_id"], "--data-dir", dd, "--json")
    assert revoked.code == 0 and revoked.json()["revoked_at"] is not None
    service = h.local_service(data_dir)
    try:
        with pytest.raises(UnauthenticatedError):
            service.authenticate(doc["token"])
        service.authenticate(token)  # the other token still works
    finally:
        service.close()


def test_principal_errors(cli: Any, h: ModuleType, data_dir: Any) -> None:
    dd = data_dir.path
    h.add_principal(cli, data_dir, "dup", "reader")
    result = cli("principal", "add", "dup", "--role", "reader", "--data-dir", dd)
    assert result.code == 6
    assert "(conflict)" in result.err
    result = cli("principal", "add", "x", "--role", "wizard", "--data-dir", dd)
    assert result.code == 2
    assert "invalid choice: 'wizard'" in result.err
    result = cli("principal", "add", "bad name!", "--role", "reader", "--data-dir", dd)
    assert result.code == 6
    assert "(invalid-request)" in result.err
    result = cli("token", "create", "nobody", "--data-dir", dd)
    assert result.code == 5
    assert "(not-found)" in result.err
    # spec §media: a principal name that matches nothing comes with the nearest names.
    result = cli("token", "create", "dupe", "--data-dir", dd)
    assert result.code == 5 and "did you mean dup?" in result.err
    result = cli("token", "revoke", "tk_nothing", "--data-dir", dd)
    assert result.code == 5
    result = cli("token", "create", "dup", "--expires-in", "soon", "--data-dir", dd)
    assert result.code == 2
    assert "'soon' is not a duration" in result.err
    result = cli("token", "create", "dup", "--expires-at", "yesterday", "--data-dir", dd)
    assert result.code == 6
    assert "RFC 3339" in result.err


def test_acting_principal_is_audited(cli: Any, h: ModuleType, data_dir: Any) -> None:
    h.add_principal(cli, data_dir, "a1", "reader")
    result = cli(
        "principal",
        "add",
        "a2",
        "--role",
        "reader",
        "--data-dir",
        data_dir.path,
        "--as",
        "tanaka@city.example",
    )
    assert result.code == 0
    adds = [e for e in h.audit_entries(data_dir.path) if e["action"] == "principal.add"]
    assert [e["actor"] for e in adds] == [h.OPERATOR, h.OPERATOR, "tanaka@city.example"]
    assert all(e["remote"] == "local" for e in adds)
    who = cli("whoami", "--data-dir", data_dir.path, "--json").json()
    assert who["name"] == h.OPERATOR and who["local"] is True
    bad = cli("whoami", "--data-dir", data_dir.path, "--as", "no spaces please")
    assert bad.code == 6 and "actor name" in bad.err
