"""What a mail transport reports when a hand-over does not simply succeed: the outbox decides from these whether
to retry, give up, or ask a person. Gmail's and Graph's answers become these through one `ProviderAnswers` each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from requests import Response


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


@dataclass(frozen=True)
class ProviderAnswers:
    """How one mailbox provider's HTTP answers (Gmail, Microsoft Graph) become the outbox's outcomes and errors a
    person can read. The providers differ only in the fields of this class."""

    name: str  # as a person knows the provider: "Google", "Microsoft"
    error: type[ProviderError]
    error_name_field: str  # the field of the provider's JSON error that names it: Gmail's "status", Graph's "code"
    is_bounce: Callable[[Response], bool]  # whether a refusal says the recipient does not exist

    def describe(self, response: Response | None) -> str:
        if response is None:
            return "no answer"
        try:
            error = response.json().get("error", {})
            return f"{response.status_code} {error.get(self.error_name_field, '')}: {error.get('message', '')}".strip()
        except ValueError:  # an answer from a proxy or a load balancer rather than the API
            return f"{response.status_code} {response.text[:200]}"

    def checked(self, response: Response) -> Response:
        if response.status_code >= 400:
            raise self.error(self.describe(response))
        return response

    def json(self, response: Response) -> dict:
        try:
            return response.json()
        except ValueError as error:
            raise self.error(f"{self.name} answered something that is not JSON ({response.status_code}).") from error

    def checked_json(self, response: Response) -> dict:
        return self.json(self.checked(response))

    def refusal(self, response: Response, doing: str) -> Exception:
        """The outcome of a draft that could not be created or sent."""
        detail = f"{self.name} would not {doing}: {self.describe(response)}"
        if response.status_code in (429, 503) or response.status_code >= 500:
            wait = response.headers.get("Retry-After")
            return TransientFailure(detail + (f" (asked to wait {wait} s)" if wait else ""))
        if response.status_code == 403:
            # A quota used up, consent withdrawn, send-as denied, the mailbox suspended: not this e-mail's fault,
            # and no other e-mail would go either.
            return MailboxUnavailable(detail)
        return PermanentFailure(detail, bounce=self.is_bounce(response))

    def with_one_renewal(self, address: str, request: Callable[[bool], Response]) -> Response:
        """The answer to `request(renew=False)`; when the provider refuses the access token (401), the answer with a
        renewed one; refused again, only a person signing in again can help."""
        response = None
        for renew in (False, True):
            response = request(renew)
            if response.status_code != 401:
                return response
        raise self.access_withdrawn(address, self.describe(response))

    def access_withdrawn(self, address: str, detail: object) -> NeedsReauthorising:
        return NeedsReauthorising(f"{self.name} no longer accepts Plixo's access to {address}: {detail}")

    def renewal_failed(self, address: str, detail: object) -> ProviderError:
        """An outage at the provider while renewing access, not a withdrawn grant: trying later may work."""
        return self.error(f"{self.name} could not renew access to {address}: {detail}")

    def unreachable(self, error: Exception) -> ProviderError:
        return self.error(f"{self.name} could not be reached: {error}")
