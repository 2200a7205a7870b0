"""The workspace home: open receivables by aging bucket in the workspace's currency format."""

from plixo.extensions import db
from tests.factories import make_invoice


def test_home_shows_open_balances_by_bucket(client, org):
    make_invoice(org, balance_minor=125_000, amount_minor=125_000)  # 10 days late: 1-30
    db.session.commit()
    page = client.get("/").data.decode()
    assert "$1,250.00" in page and "1-30" in page


def test_home_without_invoices_explains_what_will_appear(client):
    assert b"No open receivables yet" in client.get("/").data
