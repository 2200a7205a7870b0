"""A hostile walk over every route, as every role: ids that are no ids (0, past 2^63, 30 digits), another workspace's
ids, and every form field the templates name filled with values that slip past careless parsing. No answer is a
server error, and the other workspace is left exactly as it was; reading pages changes nothing in one's own.

Routes come from app.url_map and fields from the templates' name="…" attributes, so new routes and fields are
walked without touching this test.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from plixo.audit import AuditEvent
from plixo.config import ROOT
from plixo.extensions import db
from plixo.ledger.models import Customer, Invoice
from plixo.security import ROLES
from plixo.tenancy import tenant_scope
from tests.conftest import sign_in
from tests.factories import make_contact, make_customer, make_invoice, make_org, make_user

FIELDS = sorted(set(re.findall(r'name="([a-z_]+)"', "".join(
    path.read_text(encoding="utf-8") for path in (ROOT / "templates").rglob("*.html")))) - {"csrf_token"})
HOSTILE_VALUES = ["sNaN", "Infinity", "1e309", "\u0661\u0662\u0663", "x" * 10_000, "INV-1\u202eEXE.\u200b"]
NO_IDS = ["0", str(2**31), str(2**63), "9" * 30]
SKIPPED = {"static"}  # files on disk; the Stripe webhook has its own signature tests


def _accounts(org) -> dict[str, int]:
    """One real record of each kind the routes name, in `org`."""
    with tenant_scope(org.id):
        customer = make_customer(org, name="Globex")
        make_contact(customer, email="ap@globex.example")
        invoice = make_invoice(org, customer, number="INV-1")
        db.session.commit()
        return {"customer": customer.id, "invoice": invoice.id}


def _path(rule, ids: dict[str, int], id_text: str | None) -> str:
    """The rule's path with each <…> filled: `id_text` for every id when given, else the record of its kind."""
    path = rule.rule
    for name in rule.arguments:
        kind = next((k for k in ids if k in name), None)
        value = id_text if id_text is not None else str(ids.get(kind, 1)) if name.endswith("id") else "x"
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", value, path)
    return path


def _routes(app):
    return [rule for rule in app.url_map.iter_rules()
            if rule.endpoint not in SKIPPED and not rule.rule.startswith("/webhooks")]


def _requests(rule, ours: dict[str, int], theirs: dict[str, int]):
    """(method, path, form or query values) for one route: hostile values on our records, then ids that are no ids
    and the other workspace's ids with one hostile value."""
    for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
        for value in HOSTILE_VALUES:
            yield method, _path(rule, ours, None), {field: value for field in FIELDS}
        if rule.arguments:
            for id_text in NO_IDS:
                yield method, _path(rule, ours, id_text), {field: HOSTILE_VALUES[0] for field in FIELDS}
            yield method, _path(rule, theirs, None), {field: HOSTILE_VALUES[0] for field in FIELDS}


def _snapshot(org) -> tuple:
    with tenant_scope(org.id):
        return (db.session.execute(select(Invoice.number, Invoice.status, Invoice.balance_minor)).all(),
                db.session.execute(select(Customer.name, Customer.owner_id)).all(),
                db.session.scalar(select(func.count()).select_from(AuditEvent)))


@pytest.mark.parametrize("role", sorted(ROLES))
def test_no_hostile_id_or_value_reaches_a_server_error_or_the_other_workspace(app, org, controller, role):
    ours = _accounts(org)
    other = make_org(name="Other Co")
    theirs = _accounts(other)
    before = _snapshot(other)
    user = controller if role == "controller" else make_user(org, role)
    db.session.commit()
    failures, answered = [], 0
    for rule in _routes(app):
        client = sign_in(app.test_client(), user)  # afresh for each route: one may end the session (Leave, log out)
        for method, path, values in _requests(rule, ours, theirs):
            sent = {"data": values} if method != "GET" else {"query_string": values}
            response = client.open(path, method=method, headers={"HX-Request": "true"}, **sent)
            answered += response.status_code != 401
            if response.status_code >= 500:
                failures.append(f"{method} {path} with {next(iter(values.values()))[:12]!r}: {response.status_code}")
    assert failures == []
    assert answered > 400  # the walk reached the routes signed in, not a login wall
    assert _snapshot(other) == before


def test_reading_any_page_with_hostile_input_changes_nothing_in_the_workspace(app, org, controller):
    ours = _accounts(org)
    theirs = _accounts(make_org(name="Other Co"))
    db.session.commit()
    before = _snapshot(org)
    for rule in _routes(app):
        if "GET" not in rule.methods or rule.endpoint == "accounts.logout":
            continue
        client = sign_in(app.test_client(), controller)
        for method, path, values in _requests(rule, ours, theirs):
            if method == "GET":
                client.get(path, headers={"HX-Request": "true"}, query_string=values)
    assert _snapshot(org) == before
