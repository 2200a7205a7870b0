"""Workspace isolation, route by route: every URL in the app, called as workspace B with workspace A's ids.

Routes are read from app.url_map, so new routes are covered without editing this file. A route whose
URL takes an id must answer 404 (or 403) for A's ids; every other route must not show A's data; and
nothing of A's may change.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from werkzeug.routing import AnyConverter

from plixo.extensions import db
from plixo.model import Base, TenantMixin
from plixo.models import WebhookEvent
from plixo.tenancy import tenant_scope
from tests.conftest import sign_in
from tests.workspace_fixtures import populate_workspace

MARKER = "ALPHAMARK"
# Public routes whose URL token is itself the credential (an invite or sign-up link, a payer's portal link):
# holding it is what grants access, so "another workspace's token" is not a thing. Each has its own token tests.
TOKEN_ROUTES = {"accounts.accept_invite", "accounts.finish_signup", "payments.pay", "payments.start_payment",
                "payments.pay_done", "portal.open_link"}
# A Stripe account's own webhook endpoint: only a body signed with that endpoint's secret is accepted
# (tests/payments/test_connector.py), whoever posts it.
SIGNED_ROUTES = {"payments.stripe_account_webhook"}
SKIPPED = {"static"} | TOKEN_ROUTES | SIGNED_ROUTES


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _models_by_arg() -> dict[str, type]:
    return {f"{_snake(m.class_.__name__)}_id": m.class_ for m in Base.registry.mappers}


def _tenant_models() -> list[type]:
    return [m.class_ for m in Base.registry.mappers if issubclass(m.class_, TenantMixin)] + [WebhookEvent]


def _snapshot(org_id: int) -> dict[str, list[tuple]]:
    """Every column of every row workspace A owns."""
    with tenant_scope(org_id):
        return {
            model.__tablename__: [
                tuple(row) for row in db.session.execute(
                    select(*model.__table__.columns).where(model.org_id == org_id).order_by(model.id))
            ]
            for model in _tenant_models()
        }


@pytest.fixture
def workspaces(app):
    a = populate_workspace(MARKER)
    b = populate_workspace("BRAVO")
    db.session.commit()
    return a, b


def _url_for_rule(rule, a_rows, models_by_arg) -> str | None:
    values = {}
    for arg in rule.arguments:
        converter = rule._converters[arg]
        if isinstance(converter, AnyConverter):
            values[arg] = sorted(converter.items)[0]  # a fixed choice (e.g. a template kind), not an id
            continue
        if arg not in models_by_arg:
            pytest.fail(f"{rule.endpoint}: URL argument <{arg}> is not <model>_id; teach this walk about it")
        model = models_by_arg[arg]
        values[arg] = a_rows[_snake(model.__name__)].id
    return rule.build(values, append_unknown=False)[1]


def _takes_an_id(rule) -> bool:
    return any(not isinstance(rule._converters[arg], AnyConverter) for arg in rule.arguments)


def _routes(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint not in SKIPPED]


def test_workspace_a_has_a_row_in_every_tenant_table(workspaces):
    a, _b = workspaces
    assert all(rows for rows in _snapshot(a["organization"].id).values())


def test_every_route_refuses_or_hides_workspace_a_from_workspace_b(app, workspaces):
    a, b = workspaces
    before = _snapshot(a["organization"].id)
    models_by_arg = _models_by_arg()
    leaks = []
    for rule in _routes(app):
        url = _url_for_rule(rule, a, models_by_arg)
        for method in sorted(rule.methods & {"GET", "POST"}):
            client = sign_in(app.test_client(), b["user"])
            response = client.open(url, method=method, headers={"HX-Request": "true"})
            if _takes_an_id(rule) and response.status_code not in (403, 404):
                leaks.append(f"{method} {url} -> {response.status_code}, expected 404")
            if MARKER.encode() in response.data or MARKER.lower().encode() in response.data:
                leaks.append(f"{method} {url} shows workspace A's data")
    assert leaks == []
    assert _snapshot(a["organization"].id) == before


def test_the_walk_covers_routes_with_ids(app):
    assert any(rule.arguments for rule in _routes(app))
