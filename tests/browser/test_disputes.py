"""Disputes in a real browser: Legal opens the page from the navigation, moves with J/K, uploads evidence, resolves a
dispute invalid, and the invoice is back in the collections queue."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from playwright.sync_api import expect

from plixo.disputes import service as disputes
from plixo.extensions import db
from plixo.model import utcnow
from plixo.promises.service import refresh_queue
from plixo.tenancy import tenant_scope
from tests.browser.test_shell import _sign_in
from tests.factories import make_contact, make_customer, make_invoice, make_user, workspace_today

pytestmark = pytest.mark.browser
SCREENSHOTS = os.environ.get("PLIXO_SCREENSHOTS")


@pytest.fixture
def disputed(org, controller, tmp_path):
    lawyer = make_user(org, "legal", name="Lena Legal")
    with tenant_scope(org.id):
        opened = {}
        for number, name, reason, balance in (("INV-7100", "Globex Industrial", "contract", 1_250_000),
                                              ("INV-7200", "Initech Payables", "quality", 480_000)):
            customer = make_customer(org, name=name)
            make_contact(customer, email=f"ap@{name.split()[0].lower()}.example")
            invoice = make_invoice(org, customer, number=number, balance_minor=balance, amount_minor=balance,
                                   due_date=workspace_today() - dt.timedelta(days=20))
            opened[number] = disputes.open_dispute(db.session, org, invoice, controller, reason,
                                                   "The rate is not what the contract says.", None, tmp_path,
                                                   utcnow() - dt.timedelta(days=2)).invoice_id
        refresh_queue(db.session, org, utcnow())
        db.session.commit()
    return {"lawyer": lawyer, "controller": controller, **opened}


def _shot(page, name: str) -> None:
    if SCREENSHOTS:
        page.set_viewport_size({"width": 1440, "height": 1000})
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), caret="initial")


def test_legal_resolves_a_dispute_invalid_and_the_invoice_is_chased_again(page, browser, live_server, disputed,
                                                                          tmp_path):
    _sign_in(page, disputed["lawyer"])
    page.get_by_role("link", name="Disputes").click()
    page.wait_for_url("**/work/disputes")
    page.wait_for_load_state("load")  # the keys are bound by the deferred script
    expect(page.locator(".kpi").first).to_contain_text("2")
    inspector = page.locator("#inspector")
    page.keyboard.press("j")  # the soonest deadline first: damaged goods have a 7-day SLA, contracts 10
    expect(inspector.locator(".inspector-title")).to_contain_text("INV-7200")
    expect(inspector.locator(".evidence-slot").first).to_contain_text("Proof of delivery")
    page.keyboard.press("j")
    expect(inspector.locator(".inspector-title")).to_contain_text("INV-7100")
    page.keyboard.press("k")
    expect(inspector.locator(".inspector-title")).to_contain_text("INV-7200")
    page.keyboard.press("j")
    expect(inspector.locator(".inspector-title")).to_contain_text("INV-7100")
    expect(inspector.locator(".evidence-slot").first).to_contain_text("Contract or price agreement")
    page.keyboard.press("u")
    proof = tmp_path / "contract.pdf"
    proof.write_bytes(b"%PDF-1.7 signed contract")
    page.locator("#evidence-file").set_input_files(str(proof))
    page.get_by_role("button", name="Attach").click()
    expect(inspector.locator(".evidence-slot").first).to_contain_text("contract.pdf")  # the slot still missing
    _shot(page, "disputes")
    page.keyboard.press("r")
    page.get_by_role("radio", name="Invalid: the invoice stands").check()
    page.locator("#dispute-resolution").select_option("no_action")
    page.locator("#dispute-resolution-note").fill("The signed contract shows the billed rate.")
    page.get_by_role("button", name="Resolve", exact=True).click()
    expect(page.locator(".toast").last).to_contain_text("back in the collections queue")
    expect(inspector).to_contain_text("Invalid")
    _shot(page, "disputes-resolved")
    assert page.csp_violations == []
    collector = browser.new_context(base_url=live_server).new_page()  # the controller, in a browser of their own
    _sign_in(collector, disputed["controller"])
    collector.goto("/work/queue")
    expect(collector.locator(f"#row-{disputed['INV-7100']}")).to_be_visible()
    expect(collector.locator(f"#row-{disputed['INV-7200']}")).to_have_count(0)
    collector.context.close()
