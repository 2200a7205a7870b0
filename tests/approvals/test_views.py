"""/work/approvals over HTTP: who may open and decide what, refusals that change nothing, and tenancy."""

import json

import pytest
from sqlalchemy import select

from plixo.approvals import service as approvals
from plixo.approvals.models import Approval
from plixo.extensions import db
from plixo.ledger.models import Invoice
from plixo.model import utcnow
from plixo.tenancy import tenant_scope
from tests.conftest import sign_in
from tests.factories import make_customer, make_invoice, make_user

HX = {"HX-Request": "true"}


@pytest.fixture
def requests_(org, controller):
    """A large write-off (Legal's) and a small one (the controller's), of Globex Industrial."""
    with tenant_scope(org.id):
        globex = make_customer(org, name="Globex Industrial")
        large = make_invoice(org, globex, number="INV-LARGE", balance_minor=2_835_000, amount_minor=2_835_000)
        small = make_invoice(org, globex, number="INV-SMALL", balance_minor=20_000, amount_minor=20_000)
        legal = approvals.request_write_off(db.session, org, large, controller, "Customer in liquidation", utcnow())
        own = approvals.request_write_off(db.session, org, small, controller, "Rounding left-over", utcnow())
        db.session.commit()
        return {"legal": legal.id, "own": own.id, "large": large.id, "small": small.id, "customer": globex.id}


@pytest.fixture
def lawyer(app, org):
    user = make_user(org, "legal", name="Lena Legal")
    db.session.commit()
    return sign_in(app.test_client(), user)


def status_of(org, approval_id: int) -> str:
    with tenant_scope(org.id):
        return db.session.get(Approval, approval_id).status


def test_legal_opens_approvals_and_sees_only_legals_request(lawyer, requests_):
    page = lawyer.get("/work/approvals").get_data(as_text=True)
    assert f'id="approval-{requests_["legal"]}"' in page and f'id="approval-{requests_["own"]}"' not in page
    assert "Globex Industrial" in page and "INV-LARGE" in page and "Write off $28,350.00" in page
    assert "Customer in liquidation" in page and "for Legal" in page and "Cora Controller" in page
    # Legal does not work the queue: the card opens the customer page instead of the inspector.
    assert f'/work/customers/{requests_["customer"]}' in page and "/work/queue/" not in page
    assert "1 pending" in page  # the navigation's count


def test_legal_decides_legals_request(lawyer, org, requests_):
    response = lawyer.post(f"/work/approvals/{requests_['legal']}/decide", headers=HX, data={"decision": "approve"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="approvals"' in html and "Nothing waits for your decision" in html and "<html" not in html
    assert json.loads(response.headers["HX-Trigger"])["approvals:changed"] == {"waiting": 0}
    assert status_of(org, requests_["legal"]) == "approved"
    with tenant_scope(org.id):
        assert db.session.get(Invoice, requests_["large"]).status == "written_off"


def test_the_controller_sees_legals_request_labelled_without_buttons(client, lawyer, org, requests_):
    page = client.get("/work/approvals").get_data(as_text=True)
    legal_card = page[page.index(f'id="approval-{requests_["legal"]}"'):]
    legal_card = legal_card[:legal_card.index("</article>")]
    assert "for Legal" in legal_card and "Awaiting Legal" in legal_card and "decision" not in legal_card
    own_card = page[page.index(f'id="approval-{requests_["own"]}"'):]
    assert 'value="approve"' in own_card[:own_card.index("</article>")]
    assert f'/work/queue/{requests_["small"]}' in page  # a collector's link opens the invoice in the inspector


def test_a_forged_decision_on_legals_request_is_refused(client, lawyer, org, requests_):
    response = client.post(f"/work/approvals/{requests_['legal']}/decide", headers=HX, data={"decision": "approve"})
    assert response.status_code == 422 and "for Legal" in response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == f"#approval-{requests_['legal']}-message"
    assert status_of(org, requests_["legal"]) == "pending"


def test_a_decision_on_a_decided_request_is_refused(client, org, requests_):
    assert client.post(f"/work/approvals/{requests_['own']}/decide", data={"decision": "approve"}).status_code == 200
    response = client.post(f"/work/approvals/{requests_['own']}/decide", headers=HX,
                           data={"decision": "reject", "comment": "Changed my mind"})
    assert response.status_code == 422 and "already been decided" in response.get_data(as_text=True)
    assert status_of(org, requests_["own"]) == "approved"


def test_rejecting_without_a_reason_is_refused(client, org, requests_):
    response = client.post(f"/work/approvals/{requests_['own']}/decide", headers=HX, data={"decision": "reject"})
    assert response.status_code == 422 and "Say why" in response.get_data(as_text=True)
    assert status_of(org, requests_["own"]) == "pending"


def test_an_unknown_decision_is_a_bad_request(client, org, requests_):
    assert client.post(f"/work/approvals/{requests_['own']}/decide", data={"decision": "maybe"}).status_code == 400
    assert status_of(org, requests_["own"]) == "pending"


def test_an_operator_may_not_open_or_decide(client_as, org, requests_):
    operator = client_as("operator")
    assert operator.get("/work/approvals").status_code == 403
    assert operator.post(f"/work/approvals/{requests_['own']}/decide", data={"decision": "approve"}).status_code == 403
    assert status_of(org, requests_["own"]) == "pending"
    assert "/work/approvals" not in operator.get("/work/queue").get_data(as_text=True)


def test_another_workspaces_request_is_not_found(app, two_workspaces, requests_, org):
    alpha, _beta = two_workspaces
    outsider = make_user(alpha, "controller")
    db.session.commit()
    other = sign_in(app.test_client(), outsider)
    assert other.post(f"/work/approvals/{requests_['own']}/decide", data={"decision": "approve"}).status_code == 404
    assert status_of(org, requests_["own"]) == "pending"
    assert "INV-SMALL" not in other.get("/work/approvals").get_data(as_text=True)


def test_an_empty_list_says_so(lawyer):
    page = lawyer.get("/work/approvals").get_data(as_text=True)
    assert "Nothing waits for your decision" in page and "data-approvals-waiting hidden>0 pending" in page


def test_the_queue_sidebar_shows_the_same_cards(client, requests_):
    page = client.get("/work/queue").get_data(as_text=True)
    assert f'id="approval-{requests_["own"]}"' in page and "Rounding left-over" in page and "for Controller" in page


def test_approving_a_write_off_asks_for_confirmation(client, requests_):
    page = client.get("/work/approvals").get_data(as_text=True)
    assert 'hx-confirm="Write off $200.00 on Globex Industrial · INV-SMALL?' in page


def test_the_requester_is_notified_with_a_link_to_the_invoice(client, lawyer, org, requests_):
    lawyer.post(f"/work/approvals/{requests_['legal']}/decide", data={"decision": "reject", "comment": "Sue first"})
    from plixo.accounts.models import Notification

    with tenant_scope(org.id):
        note = db.session.scalar(select(Notification))
    assert note.text == ("Lena Legal rejected your write off request for Globex Industrial · INV-LARGE: Sue first")
    assert note.link.startswith("/work/queue/")  # the requester works the queue: the invoice opens there


def test_the_requester_does_not_decide_their_own_request_while_another_approver_can(client, client_as, org,
                                                                                   controller, requests_):
    answer = client.post(f"/work/approvals/{requests_['own']}/decide", headers=HX, data={"decision": "approve"})
    assert answer.status_code == 200  # the workspace's only controller: nobody else could decide it
    with tenant_scope(org.id):
        small = db.session.get(Invoice, requests_["small"])
        small.status, small.balance_minor = "open", 20_000
        again = approvals.request_write_off(db.session, org, small, controller, "Second try", utcnow()).id
        db.session.commit()
    second_controller = client_as("controller")
    own_card = client.get("/work/approvals").get_data(as_text=True)
    own_card = own_card[own_card.index(f'id="approval-{again}"'):]
    assert "another approver decides it" in own_card.split("</article>")[0]
    refused = client.post(f"/work/approvals/{again}/decide", headers=HX, data={"decision": "approve"})
    assert refused.status_code == 422 and "another approver decides it" in refused.get_data(as_text=True)
    assert status_of(org, again) == "pending"
    assert second_controller.post(f"/work/approvals/{again}/decide", data={"decision": "approve"}).status_code == 200
    assert status_of(org, again) == "approved"
