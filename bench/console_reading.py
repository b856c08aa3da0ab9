"""What an official reads on each page of a loss report, and how the report prints (issue 12).

The newcomer runs of issue 12 are timed with a keystroke-level model whose largest term is
reading (Japanese about 500 characters a minute, English about 230 words a minute); this
script counts what there is to read, a figure the machine's load does not move. It drives
headless Chromium (1366x625, the viewport of a 1366x768 laptop window) against a real key
server over a socket, on a medium of three containers, one of them opened (confirmed) the
afternoon before the loss, and follows the README's steps: the medium's page, the review
page, the medium report, its printout (A4, Chromium's own PDF, read back with pdftotext).

For each page and language (the sign-in page and the overview it lands on first, their
fields' placeholders with them) it prints the visible text of ``<main>`` (Japanese: characters
other than white space; English: words), the part of it about the time of loss (the medium
page: the field's label, placeholder, hint and button; the review page: the lines that
state or check the time), whether the report's Print button is within the first 625 px,
the printed pages and whether a printed page holds nothing but the time-zone note.

Then the review page of the newcomer runs' story (issue 12, sixteenth session): three
containers on a medium, a clerk opened one 45 s before the time of loss the official was
told and, 5 s later in the same minute, was given the key of another (a wrong password):
the review asks whether the official is sure the medium was still in hand at the last of
those releases. Its visible text is counted as a whole and by part: the question, the
answers (their buttons and what the report says for each), the facts above; and, on both
review pages, what is read before the page's primary button (nineteenth session: the
suggested "Not sure" here, "Report lost and suspend" on the other) and what shows in the
viewport without scrolling (twentieth session).

Usage: ``.venv/bin/python bench/console_reading.py [--show]`` (``--show``: the texts too)
"""

from __future__ import annotations

import argparse
import base64
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console_world import browser, on_medium
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.console_pages import LAPTOP, above_fold, reading, text_before

MEDIUM = "USB-2022-06-AMA"
LABELS = ("住民基本台帳-全件", "税務-課税台帳", "国保-資格台帳")
# Sealed on 1 Dec; one opening confirmed at 17:05 that day (Tokyo); lost at 18:30; the
# report is made on 4 Dec at 10:00.
SEALED = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
OPENED = datetime(2026, 12, 1, 8, 5, tzinfo=UTC)
NOW = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
TYPED = "2026-12-01 18:30"
VIEWPORT = LAPTOP
# The close story: the newcomer setup's labels; the clerk's opening at 17:40:15 on 3 Dec
# (Tokyo), the wrong password at 17:40:20, the official told "17:41"; reviewed on 4 Dec.
CLOSE_LABELS = (
    "2022 benefit payments export",
    "2022 residents tax export",
    "2022 childcare allowance export",
)
CLOSE_OPENED = datetime(2026, 12, 3, 8, 40, 15, tzinfo=UTC)
CLOSE_TRIED = CLOSE_OPENED + timedelta(seconds=5)
CLOSE_TYPED = "2026-12-03 17:41"
# The review page's parts, counted on their own (absent ones count 0).
CLOSE_PARTS = {
    "facts": "dl.facts",
    "list": "#effect-summary, #affected",
    "question": "#close-question, #unsure-suggested",
    "answers": "#close-opening table.choices, #consequences",
}


def _texts(driver: webdriver.Chrome, selectors: tuple[str, ...]) -> list[str]:
    """The visible texts (and placeholders) of the elements ``selectors`` match."""
    found: list[str] = []
    for selector in selectors:
        for element in driver.find_elements(By.CSS_SELECTOR, selector):
            if element.get_attribute("placeholder"):
                found.append(str(element.get_attribute("placeholder")))
            elif element.is_displayed() and element.text:
                found.append(str(element.text))
    return found


def _with_placeholders(driver: webdriver.Chrome) -> tuple[str, list[str]]:
    """``<main>``'s visible text with its fields' placeholders (read before typing, and
    not in the text), and no time-field part."""
    return (
        " ".join([driver.find_element(By.TAG_NAME, "main").text, *_texts(driver, ("main input",))]),
        [],
    )


def _before_primary(driver: webdriver.Chrome) -> str:
    """What ``<main>`` says before its primary button (the focused one, else the first
    confirm button): what an official reads before the action the page suggests (issue
    12, nineteenth session)."""
    primary = driver.find_elements(By.CSS_SELECTOR, "main .button.primary") or [
        driver.find_element(By.ID, "confirm-loss")
    ]
    return text_before(driver, primary[0])


def _go(driver: webdriver.Chrome, click: Any) -> None:
    old = driver.find_element(By.TAG_NAME, "html")
    click.click()
    WebDriverWait(driver, 60).until(lambda d: d.find_element(By.TAG_NAME, "html") != old)
    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def _printed(driver: webdriver.Chrome, directory: Path) -> list[str]:
    data = driver.execute_cdp_cmd(
        "Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True}
    )
    path = directory / "report.pdf"
    path.write_bytes(base64.b64decode(data["data"]))
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return text.split("\f")[:-1] if text.endswith("\f") else text.split("\f")


def _story(url: str, token: str, language: str, directory: Path) -> dict[str, Any]:
    driver = browser(language, directory / f"profile-{language}")
    out: dict[str, Any] = {}
    try:
        # The first two pages (seventeenth session): the sign-in page as opened, the
        # overview as signing in lands on it (the page's footer is outside <main>).
        driver.get(url + "/console/sign-in")
        out["sign-in"] = _with_placeholders(driver)
        driver.find_element(By.ID, "token").send_keys(token)
        _go(driver, driver.find_element(By.CSS_SELECTOR, "main button[type=submit]"))
        out["overview"] = _with_placeholders(driver)
        driver.get(f"{url}/console/medium?name={MEDIUM}")
        main = driver.find_element(By.TAG_NAME, "main").text
        time_texts = _texts(
            driver, ("label[for=lost_at]", "#lost_at", "#lost_at_hint", "#lost_today")
        )
        out["medium"] = (main, time_texts)
        driver.find_element(By.ID, "lost_at").send_keys(TYPED)
        driver.find_element(By.CSS_SELECTOR, "#reasons input[type=radio]").click()
        _go(driver, driver.find_element(By.ID, "review-loss"))
        main = driver.find_element(By.TAG_NAME, "main").text
        out["confirm"] = (main, _texts(driver, ("#lost-at", "#last-opening")))
        out["confirm_before"] = _before_primary(driver)
        out["confirm_fold"] = above_fold(driver)
        out["confirm_in_view"] = driver.execute_script(
            "var r = document.getElementById('confirm-loss').getBoundingClientRect();"
            "return r.bottom <= window.innerHeight;"
        )
        _go(driver, driver.find_element(By.ID, "confirm-loss"))
        main = driver.find_element(By.TAG_NAME, "main").text
        out["report"] = (main, [])
        out["print_top"] = driver.execute_script(
            "return document.getElementById('print').getBoundingClientRect().top;"
        )
        out["answer_bottom"] = driver.execute_script(
            "return document.querySelector('.answer').getBoundingClientRect().bottom;"
        )
        pages = _printed(driver, directory)
        note = driver.find_element(By.TAG_NAME, "footer").text.strip()
        out["pages"] = pages
        # A page whose body (its lines but the margin's first and last) is the note alone.
        bodies = [[line for line in p.strip().splitlines() if line.strip()][1:-1] for p in pages]
        out["note_alone"] = [
            n for n, body in enumerate(bodies, 1) if " ".join(body).split() == note.split()
        ]
    finally:
        driver.quit()
    return out


def _close_review(url: str, token: str, language: str, directory: Path) -> dict[str, Any]:
    """The review page of the close story: its text and its parts' texts."""
    driver = browser(language, directory / f"profile-close-{language}")
    try:
        driver.get(url + "/console/sign-in")
        driver.find_element(By.ID, "token").send_keys(token)
        _go(driver, driver.find_element(By.CSS_SELECTOR, "main button[type=submit]"))
        driver.get(f"{url}/console/medium?name={MEDIUM}")
        driver.find_element(By.ID, "lost_at").send_keys(CLOSE_TYPED)
        driver.find_element(By.CSS_SELECTOR, "#reasons input[type=radio]").click()
        _go(driver, driver.find_element(By.ID, "review-loss"))
        parts = {name: " ".join(_texts(driver, (sel,))) for name, sel in CLOSE_PARTS.items()}
        return {
            "main": driver.find_element(By.TAG_NAME, "main").text,
            "parts": parts,
            "before": _before_primary(driver),
            "fold": above_fold(driver),
            # Every answer's button (the suggested one first on the page where there is one).
            "confirm_in_view": driver.execute_script(
                "return ['confirm-loss', 'change-time', 'confirm-cautious'].every(function (i) {"
                " return document.getElementById(i).getBoundingClientRect().bottom"
                " <= window.innerHeight; });"
            ),
        }
    finally:
        driver.quit()


def _on_medium(
    directory: Path,
    name: str,
    labels: tuple[str, ...],
    opened: datetime,
    tried: datetime | None,
    then: Callable[[str, str], dict[str, Any]],
) -> dict[str, Any]:
    """``labels`` sealed on MEDIUM on SEALED, the first opened (confirmed) at ``opened``,
    the second's key given at ``tried`` if any; at NOW, ``then(url, official's token)``."""
    return on_medium(
        directory,
        name,
        medium=MEDIUM,
        labels=labels,
        sealed=SEALED,
        opened=opened,
        tried=tried,
        now=NOW,
        then=then,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="print the texts counted")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        results: dict[str, dict[str, Any]] = {}
        close: dict[str, dict[str, Any]] = {}
        for language in ("ja", "en"):
            results[language] = _on_medium(
                directory,
                language,
                LABELS,
                OPENED,
                None,
                lambda url, token, lang=language: _story(url, token, lang, directory),
            )
            close[language] = _on_medium(
                directory,
                f"close-{language}",
                CLOSE_LABELS,
                CLOSE_OPENED,
                CLOSE_TRIED,
                lambda url, token, lang=language: _close_review(url, token, lang, directory),
            )
    print("| page | ja chars (time-field part) | en words (time-field part) |")
    print("|---|---|---|")
    for page in ("sign-in", "overview", "medium", "confirm", "report"):
        cells = []
        for language in ("ja", "en"):
            main_text, time_texts = results[language][page]
            cells.append(
                f"{reading(main_text, language)} ({reading(' '.join(time_texts), language)})"
            )
        print(f"| {page} | {cells[0]} | {cells[1]} |")
    cells = [reading(results[lang]["confirm_before"], lang) for lang in ("ja", "en")]
    print(f"| confirm, before its primary button | {cells[0]} | {cells[1]} |")
    cells = [reading(results[lang]["confirm_fold"], lang) for lang in ("ja", "en")]
    print(f"| confirm, above the fold ({VIEWPORT[1]} px) | {cells[0]} | {cells[1]} |")
    for language in ("ja", "en"):
        r = results[language]
        print(
            f"{language}: confirm button in view {r['confirm_in_view']}; Print top "
            f"{r['print_top']:.0f} px, answer box bottom {r['answer_bottom']:.0f} px "
            f"(viewport {VIEWPORT[1]}); printed pages {len(r['pages'])}; pages with only "
            f"the zone note: {r['note_alone'] or 'none'}"
        )
    print("\nThe review with the question (close story):\n")
    print("| part | ja chars | en words |")
    print("|---|---|---|")
    for part in ("page", *CLOSE_PARTS):
        cells = [
            reading(close[lang]["main"] if part == "page" else close[lang]["parts"][part], lang)
            for lang in ("ja", "en")
        ]
        print(f"| {part} | {cells[0]} | {cells[1]} |")
    cells = [reading(close[lang]["before"], lang) for lang in ("ja", "en")]
    print(f"| before the primary button | {cells[0]} | {cells[1]} |")
    cells = [reading(close[lang]["fold"], lang) for lang in ("ja", "en")]
    print(f"| above the fold ({VIEWPORT[1]} px) | {cells[0]} | {cells[1]} |")
    for language in ("ja", "en"):
        print(f"{language}: the answers' buttons in view {close[language]['confirm_in_view']}")
    if args.show:
        for language in ("ja", "en"):
            print(f"\n--- {language} close review ---\n{close[language]['main']}")
            print(f"\n--- {language} close review, before the primary ---")
            print(close[language]["before"])
            print(f"\n--- {language} close review, above the fold ---")
            print(close[language]["fold"])
        for language in ("ja", "en"):
            for page in ("sign-in", "overview", "medium", "confirm", "report"):
                main_text, time_texts = results[language][page]
                print(f"\n--- {language} {page} ---\n{main_text}\n[time] {time_texts}")
            print("\n\f".join(results[language]["pages"]))


if __name__ == "__main__":
    main()
