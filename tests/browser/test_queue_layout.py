"""The queue on a real screen: one-line rows with chips (15+ rows at 1440×900), totals that follow every action
without a reload, and a sidebar that folds into a menu button below 900 px."""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from plixo.disputes.models import Dispute
from plixo.extensions import db
from plixo.model import utcnow
from plixo.promises.models import Promise
from plixo.promises.service import refresh_queue
from plixo.tenancy import tenant_scope
from tests.browser.test_shell import _sign_in
from tests.factories import make_contact, make_customer, make_invoice, make_user, workspace_today

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "instance" / "screenshots"
NAMES = ("Northwind Traders International Holdings", "Globex", "Initech Payables", "Umbrella Corporation Europe",
         "Stark Industries", "Wayne Enterprises", "Hooli", "Soylent Green Foods Co-operative", "Acme Widgets",
         "Vandelay Industries", "Cyberdyne Systems", "Tyrell Corporation", "Wonka Confectionery", "Gringotts",
         "Oscorp", "Monsters Inc", "Pied Piper", "Dunder Mifflin Paper Company", "Los Pollos Hermanos",
         "Bluth Company", "Sterling Cooper Draper Pryce", "Prestige Worldwide", "Massive Dynamic", "Aperture")


@pytest.fixture
def busy_queue(org):
    """A controller's workspace like the demo's: two dozen customers, 40 invoices of every age and size, with
    broken and due promises, open disputes and bouncing contacts among them."""
    controller = make_user(org, "controller", name="Cora Controller")
    rng = random.Random(16)
    today = workspace_today()
    with tenant_scope(org.id):
        for n, name in enumerate(NAMES):
            customer = make_customer(org, name=name, risk_tier=rng.choice(("low", "medium", "high")))
            bounced = n % 7 == 3
            make_contact(customer, email=f"ap{n}@example.com", is_primary=True,
                         bounce_kind="hard" if bounced else None, bounced_at=utcnow() if bounced else None)
            for k in range(2 if n % 3 else 1):
                days = rng.choice((-12, 5, 20, 45, 62, 75, 120, 294))
                invoice = make_invoice(org, customer, number=f"INV-{104000 + n * 10 + k}",
                                       due_date=today - dt.timedelta(days=days),
                                       balance_minor=rng.randint(20_000, 5_000_000))
                if n % 5 == 1 and k == 0:
                    db.session.add(Promise(org_id=org.id, invoice_id=invoice.id, customer_id=customer.id,
                                           currency="USD", amount_minor=10_000, status="broken",
                                           promised_date=today - dt.timedelta(days=2)))
                if n % 5 == 2 and k == 0:
                    db.session.add(Promise(org_id=org.id, invoice_id=invoice.id, customer_id=customer.id,
                                           currency="USD", amount_minor=10_000, status="pending",
                                           promised_date=today + dt.timedelta(days=1)))
            if n % 6 == 4:
                disputed = make_invoice(org, customer, number=f"INV-{104000 + n * 10 + 9}", status="disputed")
                db.session.add(Dispute(org_id=org.id, invoice_id=disputed.id, customer_id=customer.id,
                                       reason="pricing", opened_at=utcnow()))
        db.session.flush()
        refresh_queue(db.session, org, utcnow())
    db.session.commit()
    return controller


def _open_queue(page, user, width: int, height: int):
    _sign_in(page, user)
    page.set_viewport_size({"width": width, "height": height})
    page.goto("/work/queue")
    expect(page.locator("#queue-totals h2")).to_contain_text("invoices to work")


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


def _rows_fully_visible(page) -> int:
    viewport = page.viewport_size
    boxes = [row.bounding_box() for row in page.locator("#queue-rows .queue-row").all()]
    return sum(1 for b in boxes if b and b["y"] >= 0 and b["y"] + b["height"] <= viewport["height"]
               and b["x"] >= 0 and b["x"] + b["width"] <= viewport["width"])


def test_rows_stay_on_one_line_with_chips_so_fifteen_fit_at_1440_by_900(page, busy_queue):
    _open_queue(page, busy_queue, 1440, 900)
    rows = page.locator("#queue-rows .queue-row")
    heights = {round(row.bounding_box()["height"]) for row in rows.all()}
    assert max(heights) <= 34, heights  # one line each, whatever the customer's name or reasons
    visible = _rows_fully_visible(page)
    _shot(page, "queue-1440x900.png")
    assert visible >= 15, visible
    broken = page.locator(".chip-promise_broken").first
    expect(broken).to_have_text("Broken promise")
    expect(broken).to_have_attribute("title", re.compile(r"^promise broken "))
    expect(page.locator(".chip-aging").first).to_have_text(re.compile(r"^(\d+ d overdue|Due in \d+ d|Due today)$"))
    expect(page.locator(".chip-dispute").first).to_have_attribute("title", "customer has an open dispute")
    # The whole reason stays readable without hovering, for screen readers.
    expect(page.locator(".queue-why .sr-only").first).to_contain_text(" · ")
    assert page.csp_violations == []


def _count(page) -> int:
    return int(page.locator("#queue-totals h2").inner_text().split()[0].replace(",", ""))


def test_a_hold_lowers_the_count_without_a_reload(page, busy_queue):
    _open_queue(page, busy_queue, 1440, 900)
    before = _count(page)
    page.evaluate("() => { window.sameDocument = true; }")
    page.keyboard.press("j")
    selected = page.locator("#queue-rows .queue-row.selected")
    expect(selected).to_have_count(1)
    first = selected.get_attribute("id").removeprefix("row-")
    number = selected.locator("td").nth(1).inner_text()
    expect(page.locator("#inspector .inspector-title")).to_contain_text(number)
    page.keyboard.press("h")
    expect(page.locator("#hold-reason")).to_be_focused()
    page.keyboard.type("Waiting for the credit note")
    page.keyboard.press("Enter")
    expect(page.locator("#queue-totals h2")).to_have_text(f"{before - 1:,} invoices to work")
    expect(page.locator(f"#row-{first}")).to_have_count(0)
    assert page.evaluate("() => window.sameDocument") is True  # no reload: the event did it
    # The next invoice opened in its place; J/K still move from there.
    expect(page.locator("#inspector .inspector-title")).not_to_contain_text(number)
    page.keyboard.press("j")
    expect(page.locator("#queue-rows .queue-row.selected")).to_have_count(1)
    assert page.csp_violations == []


def test_below_900_px_the_sidebar_is_a_menu_button(page, busy_queue):
    _open_queue(page, busy_queue, 390, 844)
    menu = page.get_by_role("button", name="Menu")
    sidebar = page.locator("#sidebar")
    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(sidebar).to_be_hidden()
    main = page.locator("#main").bounding_box()
    assert main["x"] == 0 and main["width"] >= 389, main  # the content has the whole width
    _shot(page, "queue-390x844.png")
    page.mouse.wheel(0, 800)
    time.sleep(0.3)
    _shot(page, "queue-390x844-rows.png")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # nothing sticks out sideways

    menu.focus()
    page.keyboard.press("Enter")  # keyboard only
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(sidebar).to_be_visible()
    expect(sidebar.get_by_role("link", name="Home")).to_be_visible()
    _shot(page, "queue-390x844-menu.png")
    page.keyboard.press("Escape")
    expect(sidebar).to_be_hidden()
    expect(menu).to_be_focused()
    expect(menu).to_have_attribute("aria-expanded", "false")

    page.set_viewport_size({"width": 1440, "height": 900})
    expect(menu).to_be_hidden()
    expect(sidebar).to_be_visible()
    time.sleep(0.2)  # the layout settles before the wide screenshot
    _shot(page, "queue-1440x900-after.png")
