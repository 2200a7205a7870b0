"""The fake Stripe on loopback, with the app pointed at it for one test."""

from __future__ import annotations

import pytest

from tests import stripe_events as se
from tests.fake_stripe import CLIENT_ID, PLATFORM_KEY, serve

PUBLIC_BASE_URL = "http://localhost"  # the test client's own address, so links in e-mails open in it


@pytest.fixture
def fake_stripe(app):
    fake, server = serve()
    settings = {"STRIPE_API_BASE": fake.base, "STRIPE_CONNECT_BASE": fake.base, "STRIPE_SECRET_KEY": PLATFORM_KEY,
                "STRIPE_CLIENT_ID": CLIENT_ID, "STRIPE_WEBHOOK_SECRET": se.WEBHOOK_SECRET,
                "PUBLIC_BASE_URL": PUBLIC_BASE_URL}
    saved = {name: app.config[name] for name in settings}
    app.config.update(settings)
    fake.platform_webhook_url = f"{PUBLIC_BASE_URL}/webhooks/stripe"
    yield fake
    server.shutdown()
    server.server_close()
    app.config.update(saved)
