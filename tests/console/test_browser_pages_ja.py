"""Every page of the console in Japanese, in a real browser (headless Chromium): what an
official reads on each, and the downloads they offer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.support.console import (
    OTHER_MEDIUM,
    BrowserFactory,
    ConsoleServer,
)
from tests.support.console_pages import (
    click_and_wait,
    click_and_wait_for_download,
    heading,
    shoot,
    sign_in,
    states,
    submit_button,
    verify_as_shown,
)

pytestmark = pytest.mark.slow


def heading_of_request(driver: WebDriver) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, "section.card h2").text)


def test_pages_in_japanese(
    console_server: ConsoleServer,
    browser: BrowserFactory,
    screenshot_dir: Path | None,
    tmp_path: Path,
) -> None:
    """The other pages in Japanese: container, audit, verify, destroy, admin."""
    driver = browser("ja")
    sign_in(driver, console_server.url, console_server.tokens["tanaka"], "ja")
    medium, labels = OTHER_MEDIUM
    cid = console_server.containers[medium][0]
    driver.get(f"{console_server.url}/console/container/{cid}")
    assert labels[0] in heading(driver)
    assert "コンテナ" in heading(driver)
    history = driver.find_element(By.TAG_NAME, "main").text
    assert "登録" in history and "確定" in history  # its actions in words, not names
    assert "register" not in history
    shoot(driver, screenshot_dir, "08-container")

    driver.get(f"{console_server.url}/console/audit")
    assert heading(driver) == "監査ログ"
    shoot(driver, screenshot_dir, "09-audit")
    submit_button(driver, "ログの完全性を検証")
    assert "改ざんされていません" in driver.find_element(By.CSS_SELECTOR, "p.ok").text
    shoot(driver, screenshot_dir, "10-verify")

    # Destroy now: a mistyped name destroys nothing; the exact name does.
    driver.get(f"{console_server.url}/console/medium?name={medium}")
    # Under the loss form, in the closed fold of the other actions (console43).
    driver.find_element(By.CSS_SELECTOR, "#other-actions > summary").click()
    submit_button(driver, "今すぐ破棄…")
    assert states(console_server, medium) == {"active"}
    shoot(driver, screenshot_dir, "11-destroy")
    driver.find_element(By.ID, "reason").send_keys("confirmed stolen")
    driver.find_element(By.ID, "typed").send_keys(medium.lower())
    submit_button(driver, "1 件のコンテナの鍵を破棄")
    assert "一致しません" in driver.find_element(By.CSS_SELECTOR, "p.alert[role=alert]").text
    assert states(console_server, medium) == {"active"}
    driver.find_element(By.ID, "reason").send_keys("confirmed stolen")
    driver.find_element(By.ID, "typed").send_keys(medium)
    submit_button(driver, "1 件のコンテナの鍵を破棄")
    # spec §approvals: a medium's destroy waits for a second official; nothing changed.
    assert heading(driver) == "承認待ち"
    assert (
        "別の担当職員の承認を待っています" in driver.find_element(By.CSS_SELECTOR, "p.notice").text
    )
    assert states(console_server, medium) == {"active"}
    # The requester is offered no approve button on their own request.
    assert not [b for b in driver.find_elements(By.TAG_NAME, "button") if b.text == "承認して実行"]
    second = browser("ja")
    sign_in(second, console_server.url, console_server.tokens["yamada"], "ja")
    second.get(console_server.url + "/console/approvals")
    assert heading(second) == "承認待ち"
    assert labels[0] in second.find_element(By.TAG_NAME, "main").text  # what it affects
    assert f"媒体 {medium} の鍵の破棄" in heading_of_request(second)  # what it does, in Japanese
    shoot(second, screenshot_dir, "11b-approvals")
    submit_button(second, "承認して実行")
    assert "承認し、実行しました" in second.find_element(By.CSS_SELECTOR, ".notice").text
    assert states(console_server, medium) == {"destroyed"}

    # The destroyed medium's signed destruction certificate, checked offline as shown.
    driver.get(f"{console_server.url}/console/medium?name={medium}")
    click_and_wait_for_download(driver, driver.find_element(By.ID, "signed-certificate"))
    out = verify_as_shown(driver, "verify-certificate-command", tmp_path / "downloads")
    assert out.startswith("OK: destruction-certificate issued")
    # The report page offers it too.
    driver.get(f"{console_server.url}/console/medium/report?name={medium}")
    assert (
        driver.find_element(By.ID, "signed-certificate").text == "署名付き破棄証明書をダウンロード"
    )

    driver.get(f"{console_server.url}/console/media")
    assert heading(driver) == "媒体"
    shoot(driver, screenshot_dir, "13-media")

    # A mistyped medium: all in Japanese, and the suggestion opens the medium's page.
    driver.get(f"{console_server.url}/console/medium?name={medium[:-1]}X")
    assert heading(driver) == "実行されませんでした"
    main = driver.find_element(By.TAG_NAME, "main").text
    assert "no medium" not in main
    assert f"媒体 '{medium[:-1]}X' は登録されていません" in main
    shoot(driver, screenshot_dir, "15-not-found")
    click_and_wait(driver, driver.find_element(By.LINK_TEXT, medium))
    assert medium in heading(driver)

    # The admin's page (an admin signs in in a browser of their own).
    admin = browser("ja")
    sign_in(admin, console_server.url, console_server.tokens["sato"], "ja")
    admin.get(console_server.url + "/console/admin")
    assert heading(admin) == "利用者とトークン"
    shoot(admin, screenshot_dir, "12-admin")
