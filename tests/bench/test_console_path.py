"""bench/console_path.py, the fixed reader of issue 12: it runs the whole loss path and
prints figures with a verdict, and its reading rule counts what the rule says (the rule
checked on a small page in the real browser, README's card rule on a small card).
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

import pytest
from selenium.webdriver.common.by import By

from tests.support.console import BROWSER, INSTALL_HINT
from tests.support.requirements import missing

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def path(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """bench/console_path.py, imported as its run does (bench/ on sys.path)."""
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("console_path")


def _need_chromium() -> None:
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        missing(BROWSER, INSTALL_HINT)


CARD = """# tool

## 媒体をなくしたら / A medium is lost (officials)

**サインイン** して検索。
Then **Sign in** and `search`.

## Next section
次の節 / other words
"""

CARD_EN = "A medium is lost (officials) Then Sign in and search."


def test_card_is_read_by_language(path: ModuleType) -> None:
    """The card is the first "## " section; a line or " / " part with kana or kanji is
    the Japanese reader's, the others the English reader's; markdown marks are not read."""
    assert path.card(CARD, "ja").split() == ["媒体をなくしたら", "サインイン", "して検索。"]
    assert path.card(CARD, "en").split() == CARD_EN.split()


def test_operators_are_added_as_the_table_says(path: ModuleType) -> None:
    """M P BB 2K: 1.35 + 1.1 + 2 x 0.1 + 2 x 0.28; a step's chunks joined in order."""
    assert path.operator_seconds("M P BB 2K") == pytest.approx(3.21)
    assert path.operators("4 Report lost and suspend", "ja") == "M P BB R"
    # The colon: one key on a JIS keyboard, Shift+; on a US one.
    step = "3 time, reason, Review"
    assert path.operator_seconds(path.operators(step, "en")) - path.operator_seconds(
        path.operators(step, "ja")
    ) == pytest.approx(0.28)


PAGE = """<!doctype html><html lang="en"><body><nav>Menu words</nav><main>
<h1>Title</h1><p>Read this line.</p><p hidden>Hidden words</p>
<details><summary>More</summary>Folded words</details>
<label for="f">Name</label> <input id="f" placeholder="Type here">
<section class="question"><p>Which one?</p>
<button id="yes">Yes</button> <button id="unsure">Not sure</button> <button id="no">No</button>
<p>Under the answers</p></section>
<div class="answer">Answer box</div><p>After it all</p>
</main><footer>Footer words</footer></body></html>"""

# What the rule reads of PAGE, acting on "Not sure" after filling the field.
READ = "Title Read this line. More Name Which one? Yes Not sure Type here No Answer box"


@pytest.mark.slow
def test_reading_rule_on_a_page(path: ModuleType, tmp_path: Path) -> None:
    """Read: <main> up to and including the control, the field's placeholder, each
    answer and the answer box once; not read: what is outside <main>, hidden, folded,
    or after the control and not an answer."""
    _need_chromium()
    driver = path.browser("en", tmp_path / "profile")
    try:
        driver.get("data:text/html;charset=utf-8," + quote(PAGE))
        find = driver.find_element
        read = path.read_page(
            driver,
            find(By.ID, "unsure"),
            fields=[find(By.ID, "f")],
            choices=[
                *driver.find_elements(By.CSS_SELECTOR, ".question button"),
                find(By.CLASS_NAME, "answer"),
            ],
        )
    finally:
        driver.quit()
    assert sorted(read.split()) == sorted(READ.split())
    assert path.reading(read, "en") == 16


@pytest.mark.slow
def test_path_prints_figures_and_a_verdict(tmp_path: Path) -> None:
    """One language of the whole path: every step's figures, totals that add up, and a
    verdict against 120 s; no traceback."""
    _need_chromium()
    out = tmp_path / "path.json"
    done = subprocess.run(
        [sys.executable, str(BENCH / "console_path.py"), "--language", "en", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "(a) README + console to Print" in done.stdout
    (run,) = json.loads(out.read_text())["runs"].values()
    en = run["en"]
    assert [row["step"][0] for row in en["steps"]] == list("012345")
    assert all(row["read"] > 0 for row in en["steps"])
    assert sum(row["total_s"] for row in en["steps"]) == pytest.approx(en["readme_to_print_s"])
    assert en["verdict"] == ("MET" if en["readme_to_print_s"] < 120 else "MISSED")
    assert f"**{en['readme_to_print_s']:.1f}** {en['verdict']}" in done.stdout
