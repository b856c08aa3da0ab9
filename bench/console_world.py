"""The console benches' world (issue 12): a key server on a clock that stands still, one
medium's containers with a reader's releases on it, and headless Chromium at a laptop's
viewport. Shared by bench/console_reading.py and bench/console_path.py.

No bench imports its siblings as ``bench.x`` (the scripts run as ``python bench/NAME.py``,
bench/ first on ``sys.path``); console_path.py also runs a copy of this file against
another checkout, whose own keyserver and tests/support it then imports.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from keyserver._domain.settings import Settings
from keyserver._store import init_database
from keyserver.testing import new_master_key_b64, running_server
from tests.support.clock import FakeClock
from tests.support.console_pages import LAPTOP
from tests.support.world import activate, confirm, make_world, oprf

T = TypeVar("T")


def browser(language: str, profile: Path) -> webdriver.Chrome:
    """Headless Chromium in ``language`` (its UI and Accept-Language) at the newcomer runs'
    viewport (LAPTOP: a 1366x768 window's page area)."""
    options = Options()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--lang={language}",
    ):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": LAPTOP[0], "height": LAPTOP[1], "deviceScaleFactor": 1, "mobile": False},
    )
    return driver


def on_medium(
    directory: Path,
    name: str,
    *,
    medium: str,
    labels: tuple[str, ...],
    sealed: datetime,
    opened: datetime,
    tried: datetime | None,
    now: datetime,
    then: Callable[[str, str], T],
    others: Mapping[str, tuple[str, ...]] | None = None,
    names: Mapping[str, str] | None = None,
) -> T:
    """A server (SQLite under ``directory``, zone Asia/Tokyo) with ``labels`` sealed on
    ``medium`` at ``sealed`` (and ``others``' labels on their media), the first opened
    (confirmed) by the reader at ``opened``, the second's key given at ``tried`` (no
    receipt: a wrong password) if any; at ``now``, ``then(url, official's token)``.
    ``names``: principals named otherwise than their roles (tests/support/world)."""
    clock = FakeClock(sealed)
    settings = Settings(
        database_url=f"sqlite:///{directory}/{name}.db",
        master_key_b64=new_master_key_b64(),
        sweep_interval=timedelta(0),
        display_timezone="Asia/Tokyo",
        clock=clock,
    )
    init_database(settings)
    with running_server(settings) as url:
        world = make_world(settings, url, names)
        try:
            made = [activate(world, medium=medium, label=label) for label in labels]
            for other, other_labels in (others or {}).items():
                for label in other_labels:
                    activate(world, medium=other, label=label)
            clock.t = opened
            (reg, key) = made[0]
            cid = reg["container_id"]
            confirm(world, "reader", cid, key, oprf(world, "reader", cid, reg["public_key"]))
            if tried is not None:
                clock.t = tried
                (reg, _) = made[1]
                oprf(world, "reader", reg["container_id"], reg["public_key"])
            clock.t = now
            return then(url, world.tokens["official"])
        finally:
            world.close()
