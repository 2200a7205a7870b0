"""Twenty Send presses at once, from two browser tabs, against a running server on the suite's database
(PostgreSQL in CI, the embedded SQLite by default): one e-mail now, one after the minimum gap, clear refusals for
the rest, and never a server error."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from plixo.accounts.models import Policy
from plixo.extensions import db
from plixo.outreach.models import Message
from plixo.tenancy import tenant_scope
from tests.conftest import sign_in

PRESSES = 20


@pytest.fixture
def server(app):
    running = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{running.server_port}"
    running.shutdown()


def browser_tab(app, user) -> tuple[requests.Session, str]:
    """A signed-in HTTP session (what a browser tab holds: the session cookie) and its CSRF token."""
    client = sign_in(app.test_client(), user)
    token = client.csrf_token()
    tab = requests.Session()
    tab.cookies.set(app.config["SESSION_COOKIE_NAME"], client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value)
    return tab, token


def test_concurrent_presses_from_two_tabs_never_put_two_emails_inside_the_gap(app, server, org, controller,
                                                                                invoice):
    with tenant_scope(org.id):
        policy = db.session.scalar(select(Policy))
        # Every hour and day may send, so the test means the same whenever it runs; the gap is the rule under test.
        policy.quiet_hours_start = policy.quiet_hours_end = dt.time(0, 0)
        policy.sending_days = [0, 1, 2, 3, 4, 5, 6]
        db.session.commit()
    tabs = [browser_tab(app, controller) for _ in range(2)]
    url = f"{server}/work/queue/{invoice.id}/send"

    def press(n: int) -> requests.Response:
        tab, token = tabs[n % 2]
        return tab.post(url,
                        data={"subject": "Invoice reminder", "body": f"Reminder number {n}."},
                        headers={"X-CSRFToken": token, "HX-Request": "true"}, timeout=60)

    with ThreadPoolExecutor(max_workers=PRESSES) as pool:
        answers = list(pool.map(press, range(PRESSES)))

    assert sorted({answer.status_code for answer in answers}) in ([200, 422], [200])
    refusals = [answer for answer in answers if answer.status_code == 422]
    assert all("already waits to go" in a.text or "try again" in a.text for a in refusals)
    db.session.commit()  # a fresh snapshot: what the server committed
    with tenant_scope(org.id):
        moments = sorted(db.session.scalars(select(Message.scheduled_for).where(
            Message.customer_id == invoice.customer_id, Message.status.in_(("scheduled", "sending", "sent")))))
    assert len(moments) == 2, moments
    assert moments[1] - moments[0] >= dt.timedelta(hours=48)
