"""The CFO console in Chromium: the CFO lands on it, every chart draws under the Content Security Policy, a
filter swaps the figures in place, and a tile opens the rows behind it."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from plixo.extensions import db
from tests.browser.test_shell import _sign_in
from tests.factories import make_user

EVERY_CHART = ("() => { const canvases = [...document.querySelectorAll('canvas[data-console-chart]')];"
               " return canvases.length === 6 && canvases.every(c => window.Chart && window.Chart.getChart(c)); }")


def test_the_cfo_lands_on_the_console_and_drills_down(page, ledger):
    org, _controller, _today = ledger
    cfo = make_user(org, "cfo")
    db.session.commit()
    _sign_in(page, cfo)
    expect(page).to_have_url(re.compile(r"/admin/overview$"))
    page.wait_for_function(EVERY_CHART)
    assert "$2,210.00" in page.locator(".console-kpis").inner_text()
    page.select_option("#console-period", "90")
    expect(page).to_have_url(re.compile(r"period=90"))
    page.wait_for_function(EVERY_CHART)  # the swapped figures draw their charts again
    page.get_by_role("link", name="Cash collected").first.click()
    expect(page.get_by_role("heading", name="Cash collected · last 90 days")).to_be_visible()
    assert "$200.00" in page.locator("#behind").inner_text()
    assert page.csp_violations == []
