"""Sending domains: the SPF, DKIM and DMARC records a workspace must publish, and live checks of what DNS says.

Plixo makes the DKIM key pair (the private key is encrypted at rest) and tells the workspace exactly what to
publish. Each record then reads verified (DNS has what is expected), missing (no such record) or mismatch (a
record is there but says something else), with what was found and when. A domain is ready for Autopilot only when
all three verify. The resolver is injectable (config DNS_NAMESERVERS / DNS_PORT), so tests ask a DNS server on
loopback.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass

import dns.exception
import dns.resolver
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from plixo import audit
from plixo.accounts.models import Organization, User
from plixo.actions import ActionError
from plixo.mail.models import SendingDomain

_DOMAIN = re.compile(r"^(?=.{4,253}$)(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+[a-z]{2,63}$")
DNS_TIMEOUT_SECONDS = 3.0
RECORDS = ("spf", "dkim", "dmarc")
DMARC_POLICIES = ("none", "quarantine", "reject")


class DeliverabilityError(ActionError):
    """A domain that cannot be added or checked, with the message to show."""


@dataclass(frozen=True)
class DnsRecord:
    kind: str  # spf, dkim, dmarc
    host: str
    value: str


def add_domain(session: Session, org: Organization, user: User, domain: str, now: dt.datetime) -> SendingDomain:
    """Start sending from `domain`: a fresh DKIM key pair and the records to publish."""
    domain = domain.strip().lower().rstrip(".")
    if not _DOMAIN.match(domain):
        raise DeliverabilityError("Enter a domain such as acme.com (without http:// or an e-mail address).")
    if session.scalar(select(SendingDomain.id).where(SendingDomain.org_id == org.id,
                                                     SendingDomain.domain == domain)) is not None:
        raise DeliverabilityError(f"{domain} is already on this page.")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    public_der = key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    sending = SendingDomain(org_id=org.id, domain=domain, dkim_selector=f"plixo{now:%Y%m}",
                            dkim_private_key=private_pem, dkim_public_key=base64.b64encode(public_der).decode(),
                            checks={})
    session.add(sending)
    session.flush()
    audit.record(session, org_id=org.id, actor=user, action="mail.domain_added", subject=sending,
                 after={"domain": domain, "selector": sending.dkim_selector})
    return sending


def spf_include() -> str:
    """The SPF include that authorises Plixo's sending servers (config SPF_INCLUDE)."""
    return current_app.config["SPF_INCLUDE"]


def records_to_publish(sending: SendingDomain) -> list[DnsRecord]:
    return [
        DnsRecord("spf", sending.domain, f"v=spf1 include:{spf_include()} ~all"),
        DnsRecord("dkim", f"{sending.dkim_selector}._domainkey.{sending.domain}",
                  f"v=DKIM1; k=rsa; p={sending.dkim_public_key}"),
        DnsRecord("dmarc", f"_dmarc.{sending.domain}",
                  f"v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@{sending.domain}; adkim=r; aspf=r"),
    ]


def resolver_from_config() -> dns.resolver.Resolver:
    """The system's resolver, or the nameservers config names (DNS_NAMESERVERS, DNS_PORT)."""
    nameservers = [n.strip() for n in current_app.config["DNS_NAMESERVERS"].split(",") if n.strip()]
    resolver = dns.resolver.Resolver(configure=not nameservers)
    if nameservers:
        resolver.nameservers, resolver.port = nameservers, current_app.config["DNS_PORT"]
    resolver.lifetime = resolver.timeout = DNS_TIMEOUT_SECONDS
    return resolver


def check_domain(session: Session, org: Organization, user: User | str, sending: SendingDomain,
                 resolver: dns.resolver.Resolver, now: dt.datetime) -> SendingDomain:
    """Ask DNS for each record and keep what it said; DNS not answering at all changes nothing."""
    checks = {record.kind: _check(record, _txt_records(resolver, record.host)) for record in
              records_to_publish(sending)}
    before = {kind: (sending.checks or {}).get(kind, {}).get("state") for kind in RECORDS}
    sending.checks, sending.checked_at = checks, now
    audit.record(session, org_id=org.id, actor=user, action="mail.domain_checked", subject=sending, before=before,
                 after={kind: checks[kind]["state"] for kind in RECORDS})
    return sending


def _txt_records(resolver: dns.resolver.Resolver, host: str) -> list[str]:
    try:
        answer = resolver.resolve(host, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise DeliverabilityError(f"DNS did not answer for {host}. Try again in a minute.") from exc
    # A long TXT record arrives in 255-byte strings: the record is their concatenation.
    return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]


def _check(expected: DnsRecord, found: list[str]) -> dict:
    candidates = [text for text in found if _is_kind(expected.kind, text)]
    state = "missing" if not candidates else ("verified" if any(_matches(expected, text) for text in candidates)
                                              else "mismatch")
    return {"state": state, "found": " | ".join(candidates)[:2000], "expected": expected.value, "host": expected.host}


def _is_kind(kind: str, text: str) -> bool:
    lowered = text.strip().lower()
    return lowered.startswith({"spf": "v=spf1", "dkim": "v=dkim1", "dmarc": "v=dmarc1"}[kind]) or (
        kind == "dkim" and "p=" in lowered)


def _tags(text: str) -> dict[str, str]:
    pairs = (part.split("=", 1) for part in text.split(";") if "=" in part)
    return {name.strip().lower(): re.sub(r"\s+", "", value) for name, value in pairs}


def _matches(expected: DnsRecord, text: str) -> bool:
    if expected.kind == "spf":
        return f"include:{spf_include()}".lower() in text.lower().split()
    if expected.kind == "dkim":
        return _tags(text).get("p") == _tags(expected.value)["p"]
    return _tags(text).get("p", "").lower() in DMARC_POLICIES
