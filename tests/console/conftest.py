"""Console fixtures: a real ``keyserver serve`` process and the distribution's Chromium.

The server is started as a person would (``keyserver init``, then ``keyserver serve`` on a
free loopback port with ``KEYSERVER_DISPLAY_TIMEZONE=Asia/Tokyo``); its principals and containers
are set up through the service on the same data directory before it starts. Browser
tests drive headless Chromium with Selenium (chromium + chromium-driver from Debian).

Locally, a machine without Chromium skips the browser tests with one line saying how to
install it; under CI (``RWC_TEST_STRICT=1``, set by .ci/run) a missing browser fails
(tests/support/requirements.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from keyserver._domain.lifecycle import ROLES, Actor
from keyserver._domain.settings import Settings
from keyserver._service import KeyService
from keyserver._store import init_database
from keyserver.testing import new_master_key_b64, running_server
from tests.support.clock import FakeClock
from tests.support.console import (
    BROWSER,
    INSTALL_HINT,
    KEYSERVER,
    MEDIA,
    OTHER_MEDIUM,
    SCREENSHOT_ENV,
    TOKEN_RE,
    ZONE,
    BrowserFactory,
    ConsoleServer,
    committed,
)
from tests.support.database import Pristine
from tests.support.keyserver_cli import start_serve
from tests.support.processes import clean_env, stop
from tests.support.requirements import missing

SEEDED_AT = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Chromium:
    """Paths of the browser and its driver."""

    browser: str
    driver: str


@pytest.fixture(scope="session")
def chromium() -> Chromium:
    """The distribution's Chromium and chromedriver; skip (fail under CI) when missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        missing(BROWSER, INSTALL_HINT)
    return Chromium(browser=browser, driver=driver)


def _seed(settings: Settings) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Principals of every role and committed containers on the stories' media."""
    service = KeyService(settings)
    try:
        boot = Actor(name="bootstrap", roles=ROLES, local=True)
        tokens = {}
        for name, role in (
            ("tanaka", "official"),
            ("yamada", "official"),  # the second official of the two-person rule
            ("suzuki", "auditor"),
            ("sato", "admin"),
            ("vendor", "writer"),
            ("clerk", "reader"),
        ):
            tokens[name] = service.add_principal(boot, name, [role], organisation="尼崎市")["token"]
        writer = service.authenticate(tokens["vendor"])
        containers: dict[str, list[str]] = {}
        for medium, labels in [*MEDIA.values(), OTHER_MEDIUM]:
            for label in labels:
                cid = committed(service, writer, label, medium, readers=["clerk"])
                containers.setdefault(medium, []).append(cid)
        return tokens, containers
    finally:
        service.close()


@dataclass(frozen=True)
class _Initialised:
    """A data directory as ``keyserver init`` left it, and the admin token it printed."""

    data_dir: Path
    admin_token: str


@pytest.fixture(scope="session")
def _initialised(tmp_path_factory: pytest.TempPathFactory) -> _Initialised:
    """``keyserver init`` run as a person runs it, once per test process: each module's
    server gets a copy (the command costs ~1.2 CPU-s and 2-3 s under load; the copy keeps
    the files' modes, master.key 0600)."""
    data_dir = tmp_path_factory.mktemp("console-init") / "data"
    init = subprocess.run(
        [os.fspath(KEYSERVER), "init", "--data-dir", os.fspath(data_dir)],
        env=clean_env(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert init.returncode == 0, init.stderr.decode(errors="replace")
    return _Initialised(data_dir, TOKEN_RE.findall(init.stdout.decode())[0])


@pytest.fixture(scope="module")
def console_server(
    _initialised: _Initialised, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleServer]:
    """A copy of ``keyserver init``'s data directory + set-up + ``keyserver serve``
    (Asia/Tokyo), stopped afterwards."""
    base = tmp_path_factory.mktemp("console")
    data_dir = base / "data"
    shutil.copytree(_initialised.data_dir, data_dir)
    server = ConsoleServer(url="", data_dir=data_dir)
    # Sealed before the stories' time of loss (2026-12-01 18:30 in Tokyo): containers made
    # after it would be, rightly, named by the confirmation's warning (issue 12), which the
    # checked-in screenshot of the ordinary path should not show.
    seeded = server.settings().replace(clock=FakeClock(SEEDED_AT))
    server.tokens, server.containers = _seed(seeded)
    server.tokens["admin"] = _initialised.admin_token
    proc, server.url = start_serve(
        data_dir, base / "serve.log", env={"KEYSERVER_DISPLAY_TIMEZONE": ZONE}
    )
    try:
        yield server
    finally:
        stop(proc)


# Started browsers a test process keeps per language for the next test (at most this many:
# one test signs in three people in Japanese at once, the others one or two).
_KEPT_PER_LANGUAGE = 2
# The console page size of every test (tests/console/test_browser_story.py's screenshots).
_WINDOW = (1280, 900)


class _Browsers:
    """Headless Chromiums of one test process, kept between tests by language.

    A start costs ~0.9 CPU-s and 1.5-2.5 s (Chromium, chromedriver, a profile), some
    fifteen times per run before. The language is fixed at start (``--lang`` and the
    Accept-Language preference), so browsers are kept per language. What a test leaves in
    one is removed before the next test has it (:meth:`_reset`).
    """

    def __init__(self, chromium: Chromium, root: Path) -> None:
        self._chromium = chromium
        self._root = root
        self._idle: dict[str, list[webdriver.Chrome]] = {}
        self._started = 0

    def take(self, language: str, downloads: Path) -> webdriver.Chrome:
        """A browser in ``language`` on a blank page, saving downloads into ``downloads``."""
        idle = self._idle.setdefault(language, [])
        driver = idle.pop() if idle else self._start(language)
        # Downloads (the signed report) land in the test's own directory without a prompt.
        downloads.mkdir(exist_ok=True)
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        return driver

    def give_back(self, language: str, driver: webdriver.Chrome) -> None:
        """Keep ``driver`` for a later test once reset; quit it if enough are kept or the
        reset failed (a crashed or hung browser is not handed to the next test)."""
        idle = self._idle.setdefault(language, [])
        if len(idle) < _KEPT_PER_LANGUAGE and self._reset(driver):
            idle.append(driver)
        else:
            driver.quit()

    @staticmethod
    def _reset(driver: webdriver.Chrome) -> bool:
        """Leave nothing of the last test: its tabs, history, cookies, cache, window size.

        A new tab drops the old page, its history, focus and the per-tab emulation (print
        media); the console keeps its session and sign-in state only in cookies (no Web
        Storage in keyserver/_http/console/static/console.js), removed for every site.
        The new tab is brought to the front: a tab the reset opened does not have the
        window's focus (``document.hasFocus()`` false), and then no element matches
        ``:focus`` or ``:focus-visible``: the next test's focus ring read "none" (the sign-in
        check of test_browser_story.py failed after test_screen_fit.py in one process).
        True if the browser is as a new one would be.
        """
        try:
            driver.switch_to.new_window("tab")
            fresh = driver.current_window_handle
            for handle in driver.window_handles:
                if handle != fresh:
                    driver.switch_to.window(handle)
                    driver.close()
            driver.switch_to.window(fresh)
            driver.execute_cdp_cmd("Page.bringToFront", {})
            driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
            driver.execute_cdp_cmd("Network.clearBrowserCache", {})
            driver.set_window_size(*_WINDOW)
            left = driver.execute_cdp_cmd("Storage.getCookies", {})["cookies"]
            focused = driver.execute_script("return document.hasFocus()")
        except WebDriverException:
            return False
        return not left and driver.window_handles == [fresh] and focused is True

    def _start(self, language: str) -> webdriver.Chrome:
        options = Options()
        options.binary_location = self._chromium.browser
        profile = self._root / f"profile-{self._started}"
        self._started += 1
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={profile}",
            f"--lang={language}",
            f"--window-size={_WINDOW[0]},{_WINDOW[1]}",
        ):
            options.add_argument(flag)
        options.add_experimental_option(
            "prefs",
            {"intl.accept_languages": language, "download.prompt_for_download": False},
        )
        driver = webdriver.Chrome(
            service=Service(executable_path=self._chromium.driver), options=options
        )
        driver.set_page_load_timeout(60)
        return driver

    def quit_all(self) -> None:
        """Quit every kept browser (the end of the test process)."""
        for idle in self._idle.values():
            for driver in idle:
                driver.quit()
        self._idle.clear()


@pytest.fixture(scope="session")
def _browsers(chromium: Chromium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Browsers]:
    browsers = _Browsers(chromium, tmp_path_factory.mktemp("browsers"))
    try:
        yield browsers
    finally:
        browsers.quit_all()


@pytest.fixture
def browser(_browsers: _Browsers, tmp_path: Path) -> Iterator[BrowserFactory]:
    """Headless Chromium whose Accept-Language is the given language (one per call).

    Each call gives a browser of its own for the test (a test may sign in several people
    at once); a browser an earlier test used has been reset (:class:`_Browsers`).
    """
    taken: list[tuple[str, webdriver.Chrome]] = []

    def start(language: str) -> webdriver.Chrome:
        driver = _browsers.take(language, tmp_path / "downloads")
        taken.append((language, driver))
        return driver

    try:
        yield start
    finally:
        for language, driver in taken:
            _browsers.give_back(language, driver)


@pytest.fixture(scope="session")
def screenshot_dir() -> Path | None:
    """Where page screenshots are written: $RWC_CONSOLE_SCREENSHOTS; None (no screenshots)
    when it is not set.

    No test reads a screenshot back: they are the checked-in pictures of docs/console. Each
    one grew the window to the page's height and back (two layouts) and encoded a PNG of up
    to 1280x6000: sixteen per run for a temporary directory nobody looked at.
    """
    chosen = os.environ.get(SCREENSHOT_ENV)
    if not chosen:
        return None
    path = Path(chosen)
    path.mkdir(parents=True, exist_ok=True)
    return path


# The clock every test of tests/console that asks for ``settings`` starts at:
# 2026-12-04 10:00 in Asia/Tokyo.
_START = datetime(2026, 12, 4, 1, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class _ModuleDatabase:
    """One migrated SQLite key-server database of a test module, and its way back."""

    settings: Settings
    clock: FakeClock
    pristine: Pristine


@pytest.fixture(scope="module")
def _module_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_ModuleDatabase]:
    """A module's database in Asia/Tokyo, migrated once (the tests reset it, ``settings``).

    A database per test cost its migrations (~0.04 CPU-s) and, with a server per test, a
    cold engine: the first requests of each new server compiled their statements again.
    """
    clock = FakeClock(_START)
    s = Settings(
        database_url=f"sqlite:///{tmp_path_factory.mktemp('console-db')}/keyserver.db",
        master_key_b64=new_master_key_b64(),
        sweep_interval=timedelta(0),
        display_timezone=ZONE,
        clock=clock,
    )
    init_database(s)
    pristine = Pristine(s.database_url)
    try:
        yield _ModuleDatabase(s, clock, pristine)
    finally:
        pristine.close()


@pytest.fixture
def settings(_module_database: _ModuleDatabase) -> Settings:
    """Settings of a SQLite key server in Asia/Tokyo, its clock fixed and movable: the
    module's database put back to its freshly migrated state, the clock back at its start.

    For tests over a real socket (``console_url``, or ``keyserver.testing.running_server``
    for a server of the test's own) that need no browser; tests/console/security/ (conftest.py)
    has its own, over both databases.
    """
    _module_database.pristine.reset()
    _module_database.clock.t = _START
    return _module_database.settings


@pytest.fixture(scope="module")
def _module_server(_module_database: _ModuleDatabase) -> Iterator[str]:
    with running_server(_module_database.settings) as url:
        yield url


@pytest.fixture
def console_url(settings: Settings, _module_database: _ModuleDatabase, _module_server: str) -> str:
    """The base URL of the module's key server over ``settings`` (reset for each test).

    One server per module, as tests/keyserver has one per process: it keeps no state of its
    own between requests that a test here reads (sessions and everything else are rows,
    which ``settings`` put back).
    """
    # A folder's own ``settings`` (security/conftest.py's) is another database than this server's.
    assert settings is _module_database.settings, "console_url serves conftest's settings"
    return _module_server
