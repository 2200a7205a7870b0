"""Sending through a mailbox provider's drafts (Microsoft Graph, Gmail): the way to never send twice.

Each e-mail becomes a draft whose id the outbox records before asking the provider to send it. An attempt that
follows one whose outcome is unknown first looks for the e-mail among the sent messages, then at the draft: a
draft that is no longer one was taken for sending (providers send asynchronously and file the copy a moment
later), and one still waiting is sent. So a crash or a dropped connection never sends twice and never loses an
e-mail.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from typing import Protocol

import requests

from plixo.integrations.mail.outcomes import NeedsReauthorising, ProviderError, TransientFailure

NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout)


class DraftMailbox(Protocol):
    http: requests.Session

    def in_sent_items(self, internet_message_id: str) -> str | None:
        """The provider's id of the sent message with that Message-ID, if it is filed as sent."""

    def is_draft(self, draft_id: str) -> bool: ...

    def create_draft(self, email: EmailMessage) -> str: ...

    def send_draft(self, draft_id: str) -> str:
        """Ask the provider to send the draft; its id for the sent message. Raises the outbox's outcomes."""


class DraftTransport:
    """The outbox's transport for a mailbox reached through its provider's API."""

    keeps_drafts = True

    def __init__(self, mailbox: DraftMailbox):
        self.mailbox = mailbox
        self.auth_problem: str | None = None

    def send(self, email: EmailMessage, draft_id: str | None = None,
             keep_draft: Callable[[str], None] | None = None) -> str:
        if self.auth_problem:
            raise TransientFailure(self.auth_problem)
        try:
            if draft_id is not None:  # an earlier attempt may have sent it
                sent = self.mailbox.in_sent_items(email["Message-ID"])
                if sent:
                    return sent
                if draft_id:
                    return self.mailbox.send_draft(draft_id) if self.mailbox.is_draft(draft_id) else draft_id
            draft = self.mailbox.create_draft(email)
            if keep_draft is not None:
                keep_draft(draft)
            return self.mailbox.send_draft(draft)
        except NeedsReauthorising as problem:
            self.auth_problem = str(problem)
            raise TransientFailure(str(problem)) from problem
        except (ProviderError, *NETWORK_ERRORS) as error:
            # Nothing was sent: a draft alone reaches nobody, and a lost send request is checked by the retry.
            raise TransientFailure(str(error)) from error

    def close(self) -> None:
        self.mailbox.http.close()
