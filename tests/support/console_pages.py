"""Driving the console's pages in a browser (Selenium, headless Chromium): the helpers the
browser tests of tests/console share.

Sign in, press a button and wait for the page it loads (never for a fixed time: a click
that races the page it replaces is retried on the new one), what is in view, a download
and the command the page says to verify it with, the catalogue's text in a language.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from selenium.common.exceptions import (
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from keyserver._domain.i18n import translations
from keyserver._http.console import _security
from keyserver._service import KeyService
from tests.support.console import (
    KEYSERVER,
    MEDIA,
    ConsoleServer,
    clean_env,
    signed_in_session,
)
from tests.support.loss_form import MEDIUM

# A 1366x768 laptop window's viewport (the browser's own bars take the rest): the newcomer
# runs' screen, where the console's loss path must fit.
LAPTOP = (1366, 625)


def translated(language: str, message: str) -> str:
    """``message`` from the catalogue in ``language``, its values not filled in."""
    return translations(language).gettext(message)


def translated_count(language: str, singular: str, plural: str, n: int) -> str:
    """A count's message (ngettext) with ``%(n)s`` filled in."""
    return translations(language).ngettext(singular, plural, n) % {"n": n}


def in_view(driver: WebDriver, element_id: str) -> bool:
    """The element is shown and wholly inside the window, with no scrolling."""
    return bool(
        driver.execute_script(
            "var r = document.getElementById(arguments[0]).getBoundingClientRect();"
            "return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight;",
            element_id,
        )
    )


# A selection's text is laid out as innerText is (the blocks' line breaks kept, what is
# not rendered left out), unlike a range's textContent.
_TEXT_BEFORE = """
var main = document.querySelector('main');
var range = document.createRange();
range.setStart(main, 0);
range.setEndBefore(arguments[0]);
var selection = window.getSelection();
selection.removeAllRanges();
selection.addRange(range);
var text = selection.toString();
selection.removeAllRanges();
return text;
"""


def text_before(driver: WebDriver, element: WebElement) -> str:
    """What ``<main>`` shows before ``element``, as read (issue 12, nineteenth session:
    what an official reads before the button the page suggests)."""
    return str(driver.execute_script(_TEXT_BEFORE, element))


# The characters of ``<main>``'s shown text nodes laid out wholly inside the viewport, in
# order; white space kept as a space (a line's end has no width), and a space between
# nodes. A folded <details> keeps its content's boxes (content-visibility): not shown.
_ABOVE_FOLD = """
var main = document.querySelector('main');
var walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
var range = document.createRange();
var out = [];
for (var node = walker.nextNode(); node; node = walker.nextNode()) {
  if (!node.parentElement.checkVisibility({visibilityProperty: true})) { continue; }
  var kept = '';
  for (var i = 0; i < node.data.length; i++) {
    if (/\\s/.test(node.data[i])) { kept += ' '; continue; }
    range.setStart(node, i);
    range.setEnd(node, i + 1);
    var r = range.getBoundingClientRect();
    if (r.width > 0 && r.bottom <= window.innerHeight) { kept += node.data[i]; }
  }
  out.push(kept);
}
return out.join(' ');
"""


def above_fold(driver: WebDriver) -> str:
    """What ``<main>`` shows in the window as the page opens, with no scrolling (issue 12,
    twentieth session: what an official reads of the review before deciding)."""
    driver.execute_script("window.scrollTo(0, 0);")
    return str(driver.execute_script(_ABOVE_FOLD))


def reading(text: str, language: str) -> int:
    """What there is to read in ``text``, as the newcomer runs' model counts it: Japanese
    characters other than white space, English words (bench/console_reading.py)."""
    if language == "ja":
        return len("".join(text.split()))
    return len(text.split())


def shoot(driver: WebDriver, directory: Path | None, name: str) -> None:
    """A full-page screenshot (the window grown to the page's height) into ``directory``;
    nothing when it is None (``screenshot_dir``: RWC_CONSOLE_SCREENSHOTS not set)."""
    if directory is None:
        return
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(1280, max(900, min(height + 40, 6000)))
    driver.save_screenshot(str(directory / f"{name}.png"))
    driver.set_window_size(1280, 900)


def heading(driver: WebDriver) -> str:
    return str(driver.find_element(By.TAG_NAME, "h1").text)


def submit_button(driver: WebDriver, label: str) -> None:
    """Press the one button (or button-like link) labelled ``label`` on the current page."""
    buttons = [
        b for b in driver.find_elements(By.CSS_SELECTOR, "button, a.button") if b.text == label
    ]
    assert len(buttons) == 1, f"one button {label!r} expected, page: {heading(driver)}"
    click_and_wait(driver, buttons[0])


def detached(exc: WebDriverException) -> bool:
    """True for the error of a click that raced the page it started replacing."""
    return isinstance(exc, StaleElementReferenceException) or (
        "does not belong to the document" in str(exc.msg)
    )


def replaced(old: WebElement) -> Callable[[WebDriver], bool]:
    """Wait condition: ``old`` (the page's <html>) is no longer in the document.

    Selenium's staleness_of knows only StaleElementReferenceException; Chromium may also
    answer "Node ... does not belong to the document" for the old page's node (seen in the
    merge train under load), which means the same: the new page is there.
    """

    def check(_driver: WebDriver) -> bool:
        try:
            old.is_enabled()
        except WebDriverException as exc:
            if detached(exc):
                return True
            raise
        return False

    return check


def loaded(driver: WebDriver) -> bool:
    """Wait condition: the current document is complete and has its heading (every page has).

    Asked afresh each time (never through an element found earlier), so a document that
    is still being replaced answers "not yet" instead of with a detached node.
    """
    try:
        if driver.execute_script("return document.readyState") != "complete":
            return False
        return bool(driver.find_elements(By.TAG_NAME, "h1"))
    except WebDriverException as exc:
        if detached(exc):
            return False
        raise


def focused(driver: WebDriver, element_id: str, timeout: float = 10) -> bool:
    """Whether the element ``element_id`` gets the keyboard focus within ``timeout``.

    Chromium applies ``autofocus`` at a rendering update after the load event, so right
    after ``driver.get`` the focus may not have moved yet (seen under load: an empty id).
    """
    try:
        WebDriverWait(driver, timeout).until(
            lambda d: d.switch_to.active_element.get_attribute("id") == element_id
        )
    except TimeoutException:
        return False
    return True


def click_and_wait(driver: WebDriver, element: WebElement) -> None:
    """Click something that loads a new page, and wait until the new page is there.

    Robust by construction under load (merge train, load ~40): the old page's <html> must
    go stale first (so the check below cannot pass on the old page), then the new page must
    be complete with its heading. Callers find every element afresh after this returns;
    none is clicked that was found before a navigation.
    """
    old = driver.find_element(By.TAG_NAME, "html")
    try:
        element.click()
    except WebDriverException as exc:
        # Chromium may report "Node ... does not belong to the document" for a click whose
        # navigation replaced the page while the click was still being answered (seen twice
        # under load): the click was delivered, so the new page is waited for as usual.
        if not detached(exc):
            raise
    WebDriverWait(driver, 60).until(replaced(old))
    WebDriverWait(driver, 60).until(loaded)


def sign_in(driver: WebDriver, url: str, token: str, language: str) -> None:
    driver.get(url + "/console/overview")
    assert heading(driver) == translated(language, "Sign in")
    driver.find_element(By.ID, "token").send_keys(token)
    submit_button(driver, translated(language, "Sign in"))


def official_on_medium(driver: WebDriver, server: ConsoleServer, language: str) -> str:
    """Sign in as the official and open the language's story medium (MEDIA); its name."""
    sign_in(driver, server.url, server.tokens["tanaka"], language)
    medium, _ = MEDIA[language]
    driver.get(f"{server.url}/console/medium?name={medium}")
    return medium


def states(server: ConsoleServer, medium: str) -> set[str]:
    service = KeyService(server.settings())
    try:
        official = service.authenticate(server.tokens["tanaka"])
        doc = service.console_medium(official, medium)
    finally:
        service.close()
    return {c["state"] for c in doc["containers"]}


def wait_for_download(directory: Path, name: str) -> Path:
    """The file the browser saved as ``name`` once it is complete."""
    path = directory / name
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if path.exists() and not list(directory.glob("*.crdownload")):
            return path
        time.sleep(0.1)
    raise AssertionError(f"no download {name} in {sorted(p.name for p in directory.iterdir())}")


def verify_as_shown(driver: WebDriver, element_id: str, directory: Path) -> str:
    """Run the ``keyserver verify-report`` line the page shows, where the file was saved."""
    words = shlex.split(driver.find_element(By.ID, element_id).text)
    assert words[:2] == ["keyserver", "verify-report"]
    wait_for_download(directory, words[2])
    done = subprocess.run(
        [str(KEYSERVER), *words[1:]],
        cwd=directory,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def click_and_wait_for_download(driver: WebDriver, link: WebElement) -> None:
    """Click a download link: the page stays where it is."""
    link.click()
    assert driver.find_element(By.TAG_NAME, "h1").is_displayed()


def sign_in_by_cookie(
    driver: WebDriver, url: str, token: str, language: str, viewport: tuple[int, int] | None = None
) -> None:
    """Sign ``driver`` in with a session made over plain HTTP (its cookie handed to the
    browser: faster than the sign-in form), at ``viewport``'s size if given. The caller
    clears a viewport (``Emulation.clearDeviceMetricsOverride``) when it is done."""
    session = signed_in_session(url, token, language)
    cookie = session.cookies.get(_security.session_cookie_name_plain())
    assert cookie is not None
    if viewport is not None:
        width, height = viewport
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
    driver.get(url + "/console/sign-in")  # the cookie's origin first
    driver.add_cookie({"name": _security.session_cookie_name_plain(), "value": cookie})


def review_loss(
    driver: WebDriver, url: str, token: str, language: str, typed: str, *, sure: bool = False
) -> None:
    """Sign in at the laptop's viewport, fill in MEDIUM's loss form (``typed``, "Stolen")
    and press Review (the caller clears the viewport when it is done). ``sure``: untick
    the box "Approximate time" (ticked by default), so the review asks about close
    releases."""
    sign_in_by_cookie(driver, url, token, language, LAPTOP)
    driver.get(f"{url}/console/medium?name={MEDIUM}")
    driver.find_element(By.ID, "lost_at").send_keys(typed)
    if sure:
        driver.find_element(By.ID, "approximate").click()
    driver.find_element(By.CSS_SELECTOR, "#reasons input[value='stolen']").click()
    click_and_wait(driver, driver.find_element(By.ID, "review-loss"))
