"""Shared names of the console tests (fixtures in tests/console/conftest.py)."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests
from selenium import webdriver
from selenium.webdriver.remote.webdriver import WebDriver

from keyserver._domain.lifecycle import ROLES, Actor
from keyserver._domain.settings import Settings
from keyserver._service import KeyService
from tests.support.processes import clean_env
from tests.support.requirements import missing

# Re-exported (tests reach them through this module); defined once in processes.py.
__all__ = ["clean_env"]

BIN = Path(sys.executable).parent
KEYSERVER = BIN / "keyserver"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
TOKEN_RE = re.compile(r"\brwc_[A-Za-z0-9_-]{43}\b")
BROWSER = "Chromium with chromedriver (browser tests)"
INSTALL_HINT = "apt-get install chromium chromium-driver"
ZONE = "Asia/Tokyo"
# Screenshots of each page go here when set (docs/console holds the checked-in ones).
SCREENSHOT_ENV = "RWC_CONSOLE_SCREENSHOTS"

# The media of the stories; each story works on its own so the languages do not interact.
MEDIA = {
    "ja": ("USB-2022-06-AMA", ["住民基本台帳-全件", "税務-課税台帳", "<script>alert(1)</script>"]),
    "en": ("USB-2022-07-KOB", ["residents-register", "tax-ledger"]),
}
OTHER_MEDIUM = ("USB-2022-06-NISHI", ["library-loans"])


@dataclass
class ConsoleServer:
    """A live ``keyserver serve`` and what was set up in it."""

    url: str
    data_dir: Path
    tokens: dict[str, str] = field(default_factory=dict)
    containers: dict[str, list[str]] = field(default_factory=dict)

    def settings(self) -> Settings:
        """Settings of the served data directory (for checks through the service)."""
        return Settings.for_data_dir(self.data_dir, display_timezone=ZONE, sweep_interval=0)


BrowserFactory = Callable[[str], webdriver.Chrome]


def csrf_of(page: requests.Response) -> str:
    """The CSRF token of a console form page."""
    found = CSRF_RE.search(page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


def signed_in_session(url: str, token: str, language: str) -> requests.Session:
    """A plain HTTP client signed in to the console, asking for pages in ``language``."""
    browser = requests.Session()
    browser.headers["Accept-Language"] = language
    form = browser.get(url + "/console/sign-in", timeout=30)
    browser.post(
        url + "/console/sign-in",
        data={"csrf": csrf_of(form), "token": token, "next": "/console/overview"},
        timeout=30,
    )
    return browser


def committed(
    service: KeyService,
    writer: Actor,
    label: str,
    medium: str | None,
    *,
    readers: Sequence[str] = (),
    reader_groups: Sequence[str] = (),
) -> str:
    """A container registered and committed by ``writer`` through the service (active,
    with a header digest and receipt key the pages never need); its id. ``medium`` None:
    registered on no medium (``rwc seal --no-medium``)."""
    reg = service.register(
        writer, label=label, medium=medium, readers=list(readers), reader_groups=list(reader_groups)
    )
    cid = str(reg["container_id"])
    service.commit(writer, cid, header_digest=os.urandom(32), receipt_key=os.urandom(32))
    return cid


def official_with_medium(settings: Settings, medium: str) -> str:
    """An official's token, with one active container (label ``ledger``) on ``medium``."""
    service = KeyService(settings)
    try:
        boot = Actor(name="bootstrap", roles=ROLES, local=True)
        official = service.add_principal(boot, "tanaka", ["official"])["token"]
        vendor = service.add_principal(boot, "vendor", ["writer"])["token"]
        committed(service, service.authenticate(vendor), "ledger", medium, reader_groups=["clerks"])
        return str(official)
    finally:
        service.close()


def print_to_pdf(driver: WebDriver) -> bytes:
    """The page as Chromium prints it: its own @page size and margins, backgrounds kept."""
    printed = driver.execute_cdp_cmd(
        "Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True}
    )
    pdf = base64.b64decode(printed["data"])
    assert pdf.startswith(b"%PDF")
    return pdf


def pdf_pages(pdf: bytes, directory: Path) -> list[str]:
    """The text of each printed page as laid out (``pdftotext -layout``), page 1 first."""
    if shutil.which("pdftotext") is None:
        missing("pdftotext", "apt-get install poppler-utils")
    path = directory / "printed.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    # pdftotext ends every page with a form feed.
    return text.split("\f")[:-1] if text.endswith("\f") else text.split("\f")


def note_alone(pages: list[str], note: str) -> list[int]:
    """The printed pages whose body (every line but the margin's first and last) is
    ``note`` and nothing else (issue 12: the screen's footer once printed so, on page 3)."""
    alone = []
    for number, text in enumerate(pages, start=1):
        lines = [line for line in text.splitlines() if line.strip()]
        body = " ".join(lines[1:-1]).replace(note, " ").split()
        if note in text and not body:
            alone.append(number)
    return alone
