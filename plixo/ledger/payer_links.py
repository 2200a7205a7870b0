"""The links payers get in e-mails: the mini-portal and pay-now. Signed, expiring and revocable per customer.

A link carries the workspace, the customer and the customer's portal version; bumping the version
(Customer.portal_version) revokes every link sent to that customer. A pay link also names the invoices it is
for; what it charges is read when it is clicked, never written into the link.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo.connectors.models import Connection

PORTAL_SALT = "plixo.portal-link"
PAY_SALT = "plixo.pay-link"


class LinkError(ValueError):
    """A link that cannot be honoured, with the message to show the payer."""


class ExpiredLinkError(LinkError):
    pass


@dataclass(frozen=True)
class PortalClaim:
    org_id: int
    customer_id: int
    version: int


@dataclass(frozen=True)
class PayClaim(PortalClaim):
    invoice_ids: tuple[int, ...]


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _max_age() -> int:
    return current_app.config["PORTAL_LINK_DAYS"] * 86400


def portal_token(org_id: int, customer_id: int, version: int) -> str:
    return _serializer(PORTAL_SALT).dumps([org_id, customer_id, version])


def pay_token(org_id: int, customer_id: int, version: int, invoice_ids: list[int]) -> str:
    return _serializer(PAY_SALT).dumps([org_id, customer_id, version, sorted(set(invoice_ids))])


def public_url(endpoint: str, **values) -> str:
    """The address of a page as payers reach it (PUBLIC_BASE_URL), e.g. where Stripe sends them back."""
    return current_app.config["PUBLIC_BASE_URL"] + url_for(endpoint, **values)


def portal_url(org_id: int, customer_id: int, version: int) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/portal/{portal_token(org_id, customer_id, version)}"


def pay_url(org_id: int, customer_id: int, version: int, invoice_ids: list[int]) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/pay/{pay_token(org_id, customer_id, version, invoice_ids)}"


def _loaded(token: str, salt: str) -> list:
    try:
        value = _serializer(salt).loads(token, max_age=_max_age())
    except SignatureExpired as exc:
        raise ExpiredLinkError("This link has expired. Ask the sender for a new one.") from exc
    except BadSignature as exc:
        raise LinkError("This link is not valid. Check that it was copied in full.") from exc
    if not (isinstance(value, list) and all(isinstance(part, int) for part in value[:3])):
        raise LinkError("This link is not valid. Check that it was copied in full.")
    return value


def read_portal_token(token: str) -> PortalClaim:
    """The claim in a portal link; LinkError when it is tampered with, ExpiredLinkError when too old.

    Revocation is checked by the caller against the customer's current portal_version.
    """
    value = _loaded(token, PORTAL_SALT)
    if len(value) != 3:
        raise LinkError("This link is not valid. Check that it was copied in full.")
    return PortalClaim(*value)


def read_pay_token(token: str) -> PayClaim:
    """The claim in a pay link; LinkError when it is tampered with, ExpiredLinkError when too old."""
    value = _loaded(token, PAY_SALT)
    if len(value) != 4 or not (isinstance(value[3], list) and value[3]
                               and all(isinstance(i, int) for i in value[3])):
        raise LinkError("This link is not valid. Check that it was copied in full.")
    return PayClaim(value[0], value[1], value[2], tuple(value[3]))


@dataclass(frozen=True)
class LinkMaker:
    """The {portal_link} and {pay_link} merge values of one workspace. A pay link is offered only while the
    workspace can take payments: without it the field stays empty and the e-mail waits for review."""

    org_id: int
    can_pay: bool

    def values(self, customer_id: int, version: int, invoice_ids: list[int]) -> dict[str, str]:
        return {"portal_link": portal_url(self.org_id, customer_id, version),
                "pay_link": pay_url(self.org_id, customer_id, version, invoice_ids) if self.can_pay else ""}


def link_maker(session: Session, org_id: int) -> LinkMaker:
    """The workspace's link maker: pay links only while a Stripe account is connected."""
    connected = session.scalar(select(Connection.id).where(Connection.org_id == org_id, Connection.kind == "stripe",
                                                           Connection.status == "active").limit(1))
    return LinkMaker(org_id, connected is not None)
