"""An official's own public reason is on paper (issue 12, console42's newcomer runs).

A newcomer printing the report found the changes tables' "Reason" column missing on
paper. It is left off on purpose when every reason it would print is the loss report's,
already on page 1 (_routes_report.reasons_printed; seventeenth session: printed on every
container's row it was read four times). An official's own reason is not on page 1: a
restore after the loss, with its public reason, prints the column and the reason, and
the internal one stays off paper. Over a real socket (SQLite, real VOPRF), printed by
headless Chromium, read back with pdftotext.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from keyserver._domain.i18n import translate
from keyserver._domain.settings import Settings
from tests.console.test_report_print import LOSS, MEDIUM, reported
from tests.support.console import BrowserFactory, pdf_pages, print_to_pdf
from tests.support.console_pages import sign_in_by_cookie

pytestmark = pytest.mark.slow

FOUND = {"reason": "Sato brought it from the car park", "public_reason": "medium found"}


@pytest.mark.parametrize("language", ["ja", "en"])
def test_an_officials_own_reason_is_printed(
    settings: Settings, console_url: str, browser: BrowserFactory, tmp_path: Path, language: str
) -> None:
    with reported(settings, console_url) as (url, world, _):
        assert world.call("official", "POST", f"/v1/media/{MEDIUM}/restore", json=FOUND).is_success
        driver = browser(language)
        sign_in_by_cookie(driver, url, world.tokens["official"], language)
        driver.get(f"{url}/console/medium/report?name={MEDIUM}")
        pages = pdf_pages(print_to_pdf(driver), tmp_path)
    printed = " ".join(" ".join(pages).split())
    assert translate(language, "Reason", {}) in printed
    assert FOUND["public_reason"] in printed, printed
    assert LOSS["public_reason"] in " ".join(pages[0].split())
    assert FOUND["reason"] not in printed and LOSS["reason"] not in printed
