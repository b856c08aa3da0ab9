"""A live key server (SQLite, in-process uvicorn) with its principals and a movable clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from tests.support.clock import ShiftableClock


@dataclass
class LiveServer:
    url: str
    settings: Any
    clock: ShiftableClock
    tokens: dict[str, str]
    contact: str

    def official(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST ``body`` to ``path`` as the official; the answer (200 asserted)."""
        return self._as_official("POST", path, json=body)

    def official_get(self, path: str, **params: str) -> dict[str, Any]:
        """GET ``path`` with query ``params`` as the official; the answer (200 asserted)."""
        return self._as_official("GET", path, params=params)

    def _as_official(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        r = requests.request(
            method,
            self.url + path,
            headers={"Authorization": f"Bearer {self.tokens['official']}"},
            timeout=10,
            **kwargs,
        )
        assert r.status_code == 200, r.text
        doc = r.json()
        assert isinstance(doc, dict)
        return doc


CONTACT = "Information security desk, +81-6-0000-0000, security@city.example"
