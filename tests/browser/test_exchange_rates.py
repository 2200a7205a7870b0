"""Admin → Exchange rates in a real browser: a controller adds a rate (a comma is refused at its field), uploads a
CSV through HTMX, and deletes a rate after confirming it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from plixo.extensions import db
from plixo.insights.models import ExchangeRate
from plixo.tenancy import tenant_scope
from tests.browser.test_shell import _sign_in
from tests.factories import workspace_today

pytestmark = pytest.mark.browser


def _rates(org) -> list[tuple[str, str]]:
    db.session.rollback()  # a fresh read of what the server committed, not this session's last snapshot
    with tenant_scope(org.id):
        return [tuple(row) for row in db.session.execute(
            select(ExchangeRate.currency, ExchangeRate.rate).order_by(ExchangeRate.currency))]


def test_a_controller_adds_uploads_and_deletes_rates(page, org, controller):
    _sign_in(page, controller)
    page.get_by_role("link", name="Exchange rates").click()
    expect(page.locator("#rates-empty")).to_contain_text("never guessed")

    page.get_by_label("Currency", exact=True).fill("eur")
    page.get_by_label("Rate: 1 unit of the currency in USD", exact=True).fill("1,0842")
    page.get_by_role("button", name="Save rate").click()
    expect(page.locator("#rate-rate-error")).to_contain_text("Use a decimal point, not a comma: 1.0842.")
    assert _rates(org) == []

    page.get_by_label("Rate: 1 unit of the currency in USD", exact=True).fill("1.0842")
    page.get_by_role("button", name="Save rate").click()
    expect(page.locator("#toasts")).to_contain_text("Rate saved: 1 EUR = 1.0842 USD")
    expect(page.locator("#rates-EUR")).to_contain_text("Applies today")

    csv = f"currency,date,rate\nGBP,{workspace_today().isoformat()},1.2710\n".encode()
    page.get_by_label("CSV file", exact=True).set_input_files({"name": "rates.csv", "mimeType": "text/csv",
                                                               "buffer": csv})
    page.get_by_role("button", name="Upload and import").click()
    expect(page.locator("#toasts")).to_contain_text("Imported 1 rate: 1 new.")
    expect(page.locator("#rates-GBP")).to_contain_text("CSV")

    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name=f"Delete the GBP rate of {workspace_today().isoformat()}").click()
    expect(page.locator("#rates-GBP")).to_have_count(0)
    assert dialogs and dialogs[0].startswith("Delete the GBP rate of")
    assert _rates(org) == [("EUR", "1.0842")]
    assert page.csp_violations == []
