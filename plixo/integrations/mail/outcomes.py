"""What a mail transport reports when a hand-over does not simply succeed: the outbox decides from these whether
to retry, give up, or ask a person."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol


class PermanentFailure(Exception):  # noqa: N818 - outcomes, named for what happened
    """The server refused the message for good: the mailbox (a bounce) or the message itself."""

    def __init__(self, message: str, bounce: bool = False):
        super().__init__(message)
        self.bounce = bounce


class TransientFailure(Exception):  # noqa: N818
    """Nothing was accepted and trying later may work (connection refused, 4xx)."""


class MailboxUnavailable(TransientFailure):
    """The mailbox itself cannot be used now (its sign-in is refused, its server is down): no e-mail can go, so
    the sender stops the batch instead of failing every message in turn."""


class UnknownOutcome(Exception):  # noqa: N818
    """The connection broke while the message was being handed over: it may or may not have left."""


class Transport(Protocol):
    def send(self, email: EmailMessage) -> str:
        """Hand the message over; returns the provider's id for it."""

    def close(self) -> None: ...


class ProviderError(Exception):
    """A mailbox provider's API could not be used; the message says what happened, for a person."""


class NeedsReauthorising(ProviderError):  # noqa: N818 - named for what the person must do
    """The stored sign-in no longer works (revoked, expired, password changed): someone must sign in again."""
