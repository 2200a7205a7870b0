"""Reading every connected inbox's new e-mails into the reply intake (every two minutes from cron)."""

from __future__ import annotations

from plixo.accounts.models import Organization
from plixo.accounts.workspaces import for_each_workspace
from plixo.extensions import db
from plixo.mail.inbox import email_connection
from plixo.model import utcnow
from plixo.replies.intake import fetch_replies


def read_all_inboxes() -> dict[int, int]:
    """How many e-mails were read per workspace; a failing mailbox is marked on its connector, not raised."""
    return for_each_workspace("Reading replies", _read_inbox)


def _read_inbox(org: Organization) -> int:
    connection = email_connection(db.session, org.id)
    return 0 if connection is None else fetch_replies(db.session, org, connection, utcnow())
