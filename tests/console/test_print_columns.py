"""The report's print stylesheet keeps every column readable on A4 (issue 12).

A newcomer printed an English medium report whose last column came out one character per
line ("A d d r e s s", "1 2 7 . 0 ...") beside the wide "Sealed by its writer (creation)":
the other columns do not wrap in print, and the last one was allowed to break anywhere, so
the table gave it one character. The console's own stylesheet is loaded into a page with
that row and printed by Chromium; pdftotext must read every cell back whole.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.console import BrowserFactory, pdf_pages, print_to_pdf

CSS = Path(__file__).parents[2] / "keyserver/_http/console/static/console.css"

PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="{css}">
</head><body><main>
<table><thead><tr><th>Time</th><th>Who</th><th>What</th><th>Result</th><th>Address</th></tr>
</thead><tbody><tr><td>6 Dec 2026, 08:21:10 (UTC+09:00)</td><td>contractor@vendor.example</td>
<td>Sealed by its writer (creation)</td><td>Succeeded</td><td>127.0.0.1</td></tr></tbody></table>
<table><thead><tr><th>時刻</th><th>実行者</th><th>内容</th><th>原因</th><th>理由</th></tr></thead>
<tbody><tr><td>2026年12月6日 08:23:08 (UTC+09:00)</td><td>security@city.example</td>
<td>停止</td><td>紛失届</td><td>{reason}</td></tr></tbody></table>
</main></body></html>"""

# A Japanese reason has no spaces: it must still wrap inside its column, not push the page.
REASON = "昨日の夕方に帰宅途中で紛失しました。" * 3


def test_printed_columns_keep_their_words(browser: BrowserFactory, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(PAGE.format(css=CSS.as_uri(), reason=REASON), encoding="utf-8")
    driver = browser("en")
    driver.get(page.as_uri())
    text = "".join(pdf_pages(print_to_pdf(driver), tmp_path))
    for word in ("Address", "127.0.0.1", "Sealed by its writer (creation)", "内容", "紛失届"):
        assert word in text, f"{word!r} broken in print:\n{text}"
    # The Japanese reason wraps between its characters inside the page, several per line.
    assert "紛失しました。昨日" in text
