"""HTTP errors Starlette raises itself are problem documents in the client's language.

spec §problems: every refusal is a problem document whose ``detail`` is in the language the
client asked for with ``Accept-Language``; Starlette's own English text (``Method Not
Allowed``, a parser's message that may quote the input) never reaches the client.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.exceptions import HTTPException

from keyserver._domain.i18n import translate
from keyserver._domain.settings import Settings
from keyserver._http.app import create_app
from keyserver.testing import running_server
from tests.support import http_client
from tests.support.world import World

LANGUAGES = ("en", "ja")
STATIC = "/console/static/console.css"


def _problem(
    resp: httpx.Response,
    status: int,
    slug: str,
    lang: str,
    msgid: str,
    values: dict[str, Any] | None = None,
) -> None:
    values = values or {}
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.headers["content-language"] == lang
    doc = resp.json()
    assert doc["type"] == f"urn:rwc:problem:{slug}" and doc["status"] == status
    assert doc["contact"] == "privacy@city.example"
    assert doc["detail"] == translate(lang, msgid, values)
    if lang == "ja":  # the catalogue has it: not the English text
        assert doc["detail"] != translate("en", msgid, values)


def test_router_and_static_errors_in_both_languages(
    world: World, subtests: pytest.Subtests
) -> None:
    admin = {"Authorization": f"Bearer {world.tokens['admin']}"}
    for lang in LANGUAGES:
        headers = {**admin, "Accept-Language": lang}
        with http_client.client(base_url=world.url, headers=headers) as c, subtests.test(lang):
            _problem(c.get("/v1/nothing"), 404, "not-found", lang, "no such resource")
            _problem(c.get(STATIC[:-4] + "nope.css"), 404, "not-found", lang, "no such resource")
            resp = c.delete("/v1/containers")
            _problem(resp, 405, "method-not-allowed", lang, "method not allowed on this resource")
            # RFC 9110 §15.5.6: a 405 names the methods the resource has.
            assert resp.headers["allow"] == "GET, POST"
            resp = c.post(STATIC)
            _problem(resp, 405, "method-not-allowed", lang, "method not allowed on this resource")
            assert resp.headers["allow"] == "GET, HEAD"
            resp = c.post("/v1/containers", content=b"x", headers={"Content-Type": "text/plain"})
            msgid = "request body must be application/json"
            _problem(resp, 415, "unsupported-media-type", lang, msgid)
            resp = c.post("/v1/containers", json={"label": "x" * 70_000})
            msgid = "request body exceeds %(limit)s bytes"
            _problem(resp, 413, "payload-too-large", lang, msgid, {"limit": 64 * 1024})


def test_static_files_ignore_ranges(world: World, subtests: pytest.Subtests) -> None:
    """Starlette would answer a bad range with its own English text (416, 400): the
    console's assets are always sent whole (RFC 9110 §14.2 lets a server ignore Range)."""
    whole = http_client.get(world.url + STATIC)
    assert whole.status_code == 200 and len(whole.content) > 100
    for value in ("bytes=99999999-", "bytes=x-", "bytes=0-9", "pages=1-2"):
        with subtests.test(value):
            resp = http_client.get(world.url + STATIC, headers={"Range": value})
            assert resp.status_code == 200
            assert resp.content == whole.content
            assert "content-range" not in resp.headers


# What Starlette or FastAPI may raise in a later version or from a dependency, with the
# problem it must become: (status raised, status answered, slug, msgid, values).
RAISED: list[tuple[int, int, str, str, dict[str, Any]]] = [
    (400, 400, "invalid-request", "the request could not be read", {}),
    (401, 401, "unauthenticated", "authentication required", {}),
    (403, 403, "forbidden", "this resource is not open to you", {}),
    (404, 404, "not-found", "no such resource", {}),
    (405, 405, "method-not-allowed", "method not allowed on this resource", {}),
    (413, 413, "payload-too-large", "request body too large", {}),
    (415, 415, "unsupported-media-type", "request body must be application/json", {}),
] + [
    (status, 400, "invalid-request", msgid, {"status": status})
    for status in (406, 408, 411, 412, 414, 416, 417, 422, 428, 431, 451)
    for msgid in ["the key server does not answer this request (HTTP %(status)s)"]
]


def test_every_raised_status_from_the_catalogue(
    settings: Settings, subtests: pytest.Subtests
) -> None:
    app = create_app(settings)

    async def fail(status: int) -> None:
        # Starlette's detail stands for its English text and for input a parser quotes.
        raise HTTPException(status, detail="Starlette said: secret-input", headers={"X-Mine": "1"})

    app.add_api_route("/raise/{status}", fail, methods=["GET"])
    with running_server(settings, app=app) as url, http_client.client(base_url=url) as c:
        for raised, status, slug, msgid, values in RAISED:
            for lang in LANGUAGES:
                with subtests.test(f"{raised} {lang}"):
                    resp = c.get(f"/raise/{raised}", headers={"Accept-Language": lang})
                    _problem(resp, status, slug, lang, msgid, values)
                    assert "secret-input" not in resp.text
                    # Starlette's headers go with the status it chose, not with another.
                    assert ("x-mine" in resp.headers) == (raised == status)
                    if status == 401:
                        assert resp.headers["www-authenticate"] == "Bearer"
