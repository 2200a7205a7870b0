"""How Plixo speaks to a workspace's Stripe account: the credentials a connection holds."""

from __future__ import annotations

import json

from plixo.connectors.models import Connection
from plixo.integrations import stripe_gateway as gateway
from plixo.integrations.stripe_gateway import Credentials


def credentials_of(connection: Connection) -> Credentials:
    """A restricted key the workspace pasted, else the platform acting on the connected account."""
    stored = json.loads(connection.secrets or "{}")
    if stored.get("mode") == "key":
        return Credentials(stored["api_key"])
    return gateway.platform_credentials(connection.external_account_id)
