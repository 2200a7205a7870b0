"""The fake Stripe on loopback, with the app pointed at it for one test."""

from __future__ import annotations

import pytest

from tests.fake_stripe import pointed_at_fake


@pytest.fixture
def fake_stripe(app):
    with pointed_at_fake(app) as fake:
        yield fake
