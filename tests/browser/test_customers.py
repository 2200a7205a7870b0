"""Customer pages in a real browser: Sales writes a note and suggests a reminder, a collector reviews it in the
queue, and Legal opens its mention on the customer page."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from plixo.extensions import db
from tests.browser.test_shell import _sign_in
from tests.customers.conftest import collector, globex  # noqa: F401 - the shared customer fixtures
from tests.factories import make_user

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("PLIXO_SCREENSHOTS")  # a folder to keep screenshots of the pages in, when set


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def _phone_shot(page, name: str) -> None:
    """The page at 390 px as it reads once the sidebar folds into a menu (the shell's own work): without it."""
    if SHOTS:
        page.set_viewport_size({"width": 390, "height": 844})
        page.evaluate("() => { document.querySelector('.sidebar').hidden = true;"
                      " document.querySelector('.shell').style.gridTemplateColumns = '1fr'; }")
        _shot(page, name)
        page.set_viewport_size({"width": 1440, "height": 900})


@pytest.fixture
def team(org, collector):  # noqa: F811
    sales = make_user(org, "sales", name="Jake Morrison", email="jake@acmetest.example")
    legal = make_user(org, "legal", name="Robert Lindqvist", email="robert@acmetest.example")
    db.session.commit()
    return {"sales": sales, "legal": legal, "collector": collector}


def _sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login"))


def test_sales_suggests_a_reminder_a_collector_reviews_it_and_legal_opens_its_mention(page, team, globex):  # noqa: F811
    page.set_viewport_size({"width": 1440, "height": 900})
    _sign_in(page, team["sales"])
    page.get_by_role("link", name="Customers").click()
    expect(page.locator("#customer-results")).to_contain_text("Globex Corporation")
    _shot(page, "customers-list-1440")
    page.get_by_role("link", name="Globex Corporation").click()
    expect(page.locator(".customer-title")).to_have_text("Globex Corporation")

    page.get_by_role("textbox", name="Note").fill(
        "@robert the customer quotes an old price list; can you check the contract?")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#toasts")).to_contain_text("Note added.")
    expect(page.locator(".customer-timeline")).to_contain_text("can you check the contract?")

    page.get_by_text("Suggest a reminder").click()
    expect(page.get_by_role("textbox", name="Message")).to_have_value(re.compile(r"\{amount_due\}"))
    expect(page.locator("#nudge-preview")).to_contain_text("$2,500.00")
    page.get_by_role("button", name="Suggest for review").click()
    expect(page.locator("#toasts")).to_contain_text("Priya Raman to review; nothing was sent")
    expect(page.locator(".customer-timeline")).to_contain_text("Suggested by Jake Morrison; waits for a collector")
    _shot(page, "customer-page-1440")
    _phone_shot(page, "customer-page-390")
    page.goto("/work/customers")
    _phone_shot(page, "customers-list-390")
    assert page.csp_violations == []
    _sign_out(page)

    _sign_in(page, team["collector"])
    page.get_by_role("link", name=re.compile("Jake Morrison \\(Sales\\) suggested a reminder on GLX-101")).click()
    expect(page).to_have_url(re.compile(f"/work/queue/{globex['overdue'].id}$"))
    expect(page.locator("#compose")).to_contain_text("Suggested by Jake Morrison (Sales) — review before sending.")
    expect(page.locator("#compose-body")).to_have_value(re.compile(r"\{amount_due\}"))
    if SHOTS:
        page.locator("#compose .suggested-banner").scroll_into_view_if_needed()
        page.screenshot(path=os.path.join(SHOTS, "queue-suggested-draft.png"))
    _sign_out(page)

    _sign_in(page, team["legal"])
    page.get_by_role("link", name="Jake Morrison mentioned you on Globex Corporation").click()
    expect(page).to_have_url(re.compile(f"/work/customers/{globex['customer'].id}\\?note=\\d+#note-\\d+$"))
    note = page.locator(".customer-timeline li.linked")
    expect(note).to_contain_text("can you check the contract?")
    expect(note).to_be_in_viewport()
    expect(page.get_by_text("Suggest a reminder")).to_have_count(0)  # Legal reads and writes notes only
    _shot(page, "customer-page-legal")
    assert page.csp_violations == []
