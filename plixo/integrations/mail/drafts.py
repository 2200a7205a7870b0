"""Sending through a mailbox provider's drafts (Microsoft Graph, Gmail): the way to never send twice.

Each e-mail becomes a draft whose id the outbox records before asking the provider to send it. An attempt that
follows one whose outcome is unknown first looks for the e-mail among the sent messages, then at the draft. A
draft still waiting was never sent: it is replaced by one with the e-mail as it is now (amounts may have changed)
and sent. A draft that is gone but not (yet) among the sent messages is either being sent (providers send
asynchronously and file the copy a moment later) or was deleted by someone: the attempt is tried again later,
and if the e-mail never shows up among the sent ones the outbox hands it to a person. So a crash or a dropped
connection never sends twice, and an e-mail is never recorded as sent unless the mailbox shows it was.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from typing import Protocol

import requests

from plixo.integrations.mail.outcomes import MailboxUnavailable, NeedsReauthorising, ProviderError, TransientFailure

NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout)


class DraftMailbox(Protocol):
    http: requests.Session

    def in_sent_items(self, internet_message_id: str) -> str | None:
        """The provider's id of the sent message with that Message-ID, if it is filed as sent."""

    def is_draft(self, draft_id: str) -> bool: ...

    def create_draft(self, email: EmailMessage) -> str: ...

    def delete_draft(self, draft_id: str) -> None: ...

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
            raise MailboxUnavailable(self.auth_problem)
        try:
            if draft_id is not None:  # an earlier attempt may have sent it
                sent = self.mailbox.in_sent_items(email["Message-ID"])
                if sent:
                    return sent
                if draft_id and not self.mailbox.is_draft(draft_id):
                    raise TransientFailure("The draft has left the mailbox's drafts but is not among its sent "
                                           "e-mails yet; checking again shortly before doing anything.")
                if draft_id:
                    self.mailbox.delete_draft(draft_id)  # never sent: replaced by the e-mail as it is now
            draft = self.mailbox.create_draft(email)
            if keep_draft is not None:
                keep_draft(draft)
            return self.mailbox.send_draft(draft)
        except NeedsReauthorising as problem:
            self.auth_problem = str(problem)
            raise MailboxUnavailable(str(problem)) from problem
        except (ProviderError, *NETWORK_ERRORS) as error:
            # Nothing was sent: a draft alone reaches nobody, and a lost send request is checked by the retry.
            raise TransientFailure(str(error)) from error

    def close(self) -> None:
        self.mailbox.http.close()
