"""A small Stripe on loopback for the real `stripe` library: Connect OAuth, accounts, webhook endpoints,
Checkout Sessions, customers (the test event), file uploads and dispute evidence, and the signed webhooks those cause.

It answers the way Stripe does (form-encoded and multipart requests with bracketed keys, JSON objects, Stripe's error
shapes,
Bearer keys, the Stripe-Account header, idempotency keys) and keeps what it was asked for, so tests can check
what Plixo sent. Webhooks are queued in `outbox` and delivered when a test calls `deliver`, signed exactly as
Stripe signs them (tests/stripe_events.py).
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import re
import secrets
import threading
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests import stripe_events as se

PUBLIC_BASE_URL = "http://localhost"  # the test client's own address, so links in e-mails open in it

PLATFORM_KEY = "sk_test_platform_plixo"
CLIENT_ID = "ca_test_plixo"
# Stripe's dispute evidence fields (docs.stripe.com/api/disputes/update): these take a File id, the rest text.
EVIDENCE_FILE_FIELDS = {"cancellation_policy", "customer_communication", "customer_signature",
                        "duplicate_charge_documentation", "receipt", "refund_policy", "service_documentation",
                        "shipping_documentation", "uncategorized_file"}
EVIDENCE_TEXT_FIELDS = {"access_activity_log", "billing_address", "cancellation_policy_disclosure",
                        "cancellation_rebuttal", "customer_email_address", "customer_name", "customer_purchase_ip",
                        "duplicate_charge_explanation", "duplicate_charge_id", "product_description",
                        "refund_policy_disclosure", "refund_refusal_explanation", "service_date", "shipping_address",
                        "shipping_carrier", "shipping_date", "shipping_tracking_number", "uncategorized_text"}
ANSWERABLE = ("needs_response", "warning_needs_response")  # dispute statuses that still take evidence
# Stripe refuses evidence on a dispute that no longer needs a response as an invalid_request_error; its exact wording
# is not documented, so tests compare with these rather than with text of their own.
ALREADY_SUBMITTED = "This dispute is already under review: its evidence was submitted and cannot be changed."
ALREADY_CLOSED = "This dispute is already closed."
PAST_DUE = "The evidence for this dispute was due by a date that has passed."
_ids = itertools.count(1)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(6)}{next(_ids)}"


def nested(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding back into objects: a[b][0][c]=v → {"a": {"b": [{"c": "v"}]}}."""
    root: dict = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part, following in itertools.zip_longest(parts, parts[1:]):
            if following is None:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _lists(root)


def _lists(node):
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_lists(node[k]) for k in sorted(node, key=int)]
        return {k: _lists(v) for k, v in node.items()}
    return node


@dataclass
class Delivery:
    url: str
    body: bytes
    signature: str
    event: dict


@dataclass
class FakeStripe:
    base: str = ""
    platform_webhook_url: str = ""  # where Connect events go (the platform's endpoint)
    accounts: dict[str, dict] = field(default_factory=dict)
    keys: dict[str, dict] = field(default_factory=dict)  # restricted key -> {"account", "permissions"}
    oauth_accounts: set[str] = field(default_factory=set)
    codes: dict[str, str] = field(default_factory=dict)
    endpoints: dict[str, dict] = field(default_factory=dict)
    sessions: dict[str, dict] = field(default_factory=dict)
    customers: dict[str, dict] = field(default_factory=dict)
    files: dict[str, dict] = field(default_factory=dict)
    disputes: dict[str, dict] = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)
    outbox: list[Delivery] = field(default_factory=list)
    idempotent: dict[str, tuple[int, dict]] = field(default_factory=dict)
    next_oauth_account: str | None = None
    deny_oauth: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- Set-up helpers for tests -----------------------------------------------------------------------

    def add_account(self, account_id: str | None = None, name: str = "Acme Payments",
                    charges_enabled: bool = True) -> str:
        account_id = account_id or _new_id("acct")
        self.accounts[account_id] = {"id": account_id, "object": "account", "charges_enabled": charges_enabled,
                                     "business_profile": {"name": name}, "type": "standard"}
        return account_id

    def add_restricted_key(self, account_id: str, permissions: tuple[str, ...] = ("webhook_endpoints", "customers",
                                                                               "checkout")) -> str:
        key = f"rk_test_{secrets.token_hex(12)}"
        self.keys[key] = {"account": account_id, "permissions": set(permissions)}
        return key

    def add_dispute(self, account_id: str, payment_intent: str, amount: int, due_by: int | None = None,
                    status: str = "needs_response") -> str:
        """A chargeback on the account, due in a week unless `due_by` says otherwise; its id."""
        dispute_id = f"dp_{payment_intent}"
        self.disputes[dispute_id] = {
            "id": dispute_id, "object": "dispute", "charge": f"ch_{payment_intent}", "payment_intent": payment_intent,
            "amount": amount, "currency": "usd", "reason": "product_not_received", "status": status,
            "evidence": {}, "account": account_id,
            "evidence_details": {"due_by": due_by or int(time.time()) + 7 * 86_400, "has_evidence": False,
                                 "past_due": False, "submission_count": 0}}
        return dispute_id

    # --- What Stripe would do on its side ---------------------------------------------------------------

    def complete_checkout(self, session_id: str, amount: int | None = None) -> str:
        """The payer paid on Stripe's page: the session completes and its PaymentIntent succeeds."""
        checkout = self.sessions[session_id]
        intent = _new_id("pi")
        paid = checkout["amount_total"] if amount is None else amount
        invoice_ids = [int(i) for i in checkout["metadata"]["plixo_invoice_ids"].split(",")]
        completed = se.checkout_completed(None, intent, paid, invoice_ids, currency=checkout["currency"])
        completed["data"]["object"]["id"] = session_id
        succeeded = se.intent_succeeded(None, intent, paid, invoice_ids, currency=checkout["currency"])
        succeeded["data"]["object"]["metadata"] = checkout["payment_intent_metadata"]
        checkout["status"], checkout["payment_intent"] = "complete", intent
        for event in (completed, succeeded):
            self._emit(checkout["account"], event)
        return intent

    def deliver(self, client=None) -> list[int]:
        """Post every queued webhook: through a Flask test client when given, else over HTTP to its URL."""
        with self.lock:
            queued, self.outbox = self.outbox, []
        statuses = []
        for delivery in queued:
            headers = {"Stripe-Signature": delivery.signature}
            if client is not None:
                response = client.post(urlsplit(delivery.url).path, data=delivery.body,
                                       content_type="application/json", headers=headers)
                statuses.append(response.status_code)
            else:
                request = urllib.request.Request(delivery.url, data=delivery.body, method="POST",
                                                 headers={**headers, "Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=10) as response:
                    statuses.append(response.status)
        return statuses

    def _emit(self, account_id: str, event: dict) -> None:
        """Queue the webhook Stripe would send: to the platform for Connect accounts, else to the account's own
        endpoints that listen to the event's type."""
        if account_id in self.oauth_accounts and self.platform_webhook_url:
            event = {**event, "account": account_id}
            body = se.body_of(event)
            self.outbox.append(Delivery(self.platform_webhook_url, body, se.sign(body), event))
        for endpoint in self.endpoints.values():
            if endpoint["account"] == account_id and event["type"] in endpoint["enabled_events"]:
                direct = {**event, "account": None}
                body = se.body_of(direct)
                self.outbox.append(Delivery(endpoint["url"], body, se.sign(body, endpoint["secret"]), direct))

    # --- The HTTP API -----------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers, params: dict) -> tuple[int, dict | str, dict]:
        self.requests.append({"method": method, "path": path, "params": params,
                              "account": headers.get("Stripe-Account"), "key": _bearer(headers)})
        if path == "/oauth/authorize":
            return self._authorize(params)
        if path.startswith("/oauth/"):
            return self._oauth(path, params)
        key = _bearer(headers)
        caller = self._caller(key, headers.get("Stripe-Account"))
        if isinstance(caller, tuple):
            return caller
        idempotency = headers.get("Idempotency-Key")
        if idempotency and (caller, idempotency) in self.idempotent:
            seen_params, status, body = self.idempotent[(caller, idempotency)]
            if seen_params != params:
                return _error(400, "idempotency_error", "Keys for idempotent requests can only be used with the "
                                                       "same parameters they were first used with.")
            return status, body, {}
        status, body, extra = self._route(method, path, params, caller, key)
        if idempotency and method == "POST" and status < 500:
            self.idempotent[(caller, idempotency)] = (params, status, body)
        return status, body, extra

    def _caller(self, key: str | None, stripe_account: str | None):
        if key == PLATFORM_KEY:
            if stripe_account and stripe_account not in self.oauth_accounts:
                return _error(403, "permission_error", "The provided key does not have access to account "
                                                       f"'{stripe_account}' (or that account does not exist).")
            return stripe_account or "platform"
        if key in self.keys:
            return self.keys[key]["account"]
        return _error(401, "invalid_request_error", f"Invalid API Key provided: {(key or '')[:8]}****")

    def _allowed(self, key: str, permission: str) -> bool:
        return key == PLATFORM_KEY or permission in self.keys[key]["permissions"]

    def _route(self, method, path, params, caller, key):
        if method == "GET" and path == "/v1/account":
            return 200, self.accounts[caller], {}
        if method == "GET" and (match := re.fullmatch(r"/v1/accounts/(\w+)", path)):
            account = self.accounts.get(match[1])
            return (200, account, {}) if account else _error(404, "invalid_request_error", "No such account")
        if path.startswith("/v1/webhook_endpoints"):
            if not self._allowed(key, "webhook_endpoints"):
                return _error(403, "permission_error", "The provided key does not have the required permissions "
                                                       "for this endpoint: rak_webhook_write.")
            return self._webhook_endpoints(method, path, params, caller)
        if path.startswith("/v1/customers"):
            if not self._allowed(key, "customers"):
                return _error(403, "permission_error", "The provided key does not have the required permissions "
                                                       "for this endpoint: rak_customer_write.")
            return self._customers(method, path, params, caller)
        if path.startswith("/v1/files"):
            if not self._allowed(key, "files"):
                return _error(403, "permission_error", "The provided key does not have the required permissions "
                                                       "for this endpoint: rak_file_write.")
            return self._files(method, path, params, caller)
        if path.startswith("/v1/disputes"):
            if not self._allowed(key, "disputes"):
                return _error(403, "permission_error", "The provided key does not have the required permissions "
                                                       "for this endpoint: rak_dispute_write.")
            return self._disputes(method, path, params, caller)
        if path.startswith("/v1/checkout/sessions"):
            if not self._allowed(key, "checkout"):
                return _error(403, "permission_error", "The provided key does not have the required permissions "
                                                       "for this endpoint: rak_checkout_session_write.")
            return self._checkout_sessions(method, path, params, caller)
        return _error(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).")

    def _authorize(self, params):
        redirect = params.get("redirect_uri", "")
        if params.get("client_id") != CLIENT_ID:
            return 400, "<p>Invalid client_id</p>", {}
        state = params.get("state", "")
        if self.deny_oauth:
            query = {"error": "access_denied", "error_description": "The user denied your request", "state": state}
        else:
            account = self.next_oauth_account or self.add_account()
            code = _new_id("ac")
            self.codes[code] = account
            query = {"code": code, "scope": params.get("scope", "read_write"), "state": state}
        return 302, "", {"Location": f"{redirect}?{urlencode(query)}"}

    def _oauth(self, path, params):
        if path == "/oauth/token":
            account = self.codes.pop(params.get("code", ""), None)
            if params.get("grant_type") != "authorization_code" or account is None:
                return 400, {"error": "invalid_grant",
                             "error_description": f"Authorization code does not exist: {params.get('code')}"}, {}
            self.oauth_accounts.add(account)
            return 200, {"access_token": f"sk_test_{secrets.token_hex(8)}", "livemode": False, "scope": "read_write",
                         "refresh_token": f"rt_{secrets.token_hex(8)}", "token_type": "bearer",
                         "stripe_publishable_key": "pk_test_x", "stripe_user_id": account}, {}
        if path == "/oauth/deauthorize":
            account = params.get("stripe_user_id", "")
            self.oauth_accounts.discard(account)
            return 200, {"stripe_user_id": account}, {}
        return 404, {"error": "invalid_request", "error_description": "Unknown OAuth path"}, {}

    def _webhook_endpoints(self, method, path, params, caller):
        if method == "POST" and path == "/v1/webhook_endpoints":
            endpoint = {"id": _new_id("we"), "object": "webhook_endpoint", "url": params["url"],
                        "enabled_events": params.get("enabled_events", []), "status": "enabled",
                        "secret": f"whsec_{secrets.token_hex(16)}", "account": caller}
            self.endpoints[endpoint["id"]] = endpoint
            return 200, endpoint, {}
        if method == "DELETE" and (match := re.fullmatch(r"/v1/webhook_endpoints/(\w+)", path)):
            if self.endpoints.pop(match[1], None) is None:
                return _error(404, "invalid_request_error", f"No such webhook endpoint: '{match[1]}'")
            return 200, {"id": match[1], "object": "webhook_endpoint", "deleted": True}, {}
        return _error(404, "invalid_request_error", "Unrecognized request URL.")

    def _customers(self, method, path, params, caller):
        if method == "POST" and path == "/v1/customers":
            customer = {"id": _new_id("cus"), "object": "customer", "metadata": params.get("metadata", {}),
                        "description": params.get("description")}
            self.customers[customer["id"]] = customer
            self._emit(caller, se.event("customer.created", customer, None))
            return 200, customer, {}
        if method == "DELETE" and (match := re.fullmatch(r"/v1/customers/(\w+)", path)):
            self.customers.pop(match[1], None)
            return 200, {"id": match[1], "object": "customer", "deleted": True}, {}
        return _error(404, "invalid_request_error", "Unrecognized request URL.")

    def _checkout_sessions(self, method, path, params, caller):
        if method == "POST" and path == "/v1/checkout/sessions":
            return self._checkout(params, caller)
        match = re.fullmatch(r"/v1/checkout/sessions/(\w+?)(/expire)?", path)
        checkout = self.sessions.get(match[1]) if match else None
        if checkout is None or checkout["account"] != caller:
            return _error(404, "invalid_request_error", "No such checkout.session")
        if match[2]:
            if checkout["status"] != "open":
                return _error(400, "invalid_request_error", "Only Checkout Sessions with a status in [\"open\"] "
                                                            "can be expired.")
            checkout["status"] = "expired"
        return 200, checkout, {}

    def _checkout(self, params, caller):
        items = params.get("line_items") or []
        currencies = {item["price_data"]["currency"] for item in items}
        if not items or len(currencies) != 1:
            return _error(400, "invalid_request_error", "All line items must have the same currency.")
        if any(len(str(value)) > 500 for value in (params.get("metadata") or {}).values()):
            return _error(400, "invalid_request_error", "Metadata values can have up to 500 characters.")
        amount = sum(int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1)) for item in items)
        session_id = _new_id("cs_test")
        checkout = {"id": session_id, "object": "checkout.session", "mode": params.get("mode"),
                    "amount_total": amount, "currency": currencies.pop(), "metadata": params.get("metadata", {}),
                    "payment_intent_metadata": (params.get("payment_intent_data") or {}).get("metadata", {}),
                    "success_url": params.get("success_url"), "cancel_url": params.get("cancel_url"),
                    "customer_email": params.get("customer_email"), "line_items": items, "status": "open",
                    "account": caller, "url": f"{self.base}/c/pay/{session_id}",
                    "expires_at": int(params["expires_at"]) if params.get("expires_at") else None}
        self.sessions[session_id] = checkout
        return 200, checkout, {}


    def _files(self, method, path, params, caller):
        if method != "POST" or path != "/v1/files":
            return _error(404, "invalid_request_error", "Unrecognized request URL.")
        upload = params.get("file")
        if not isinstance(upload, dict) or not upload["data"]:
            return _error(400, "invalid_request_error", "Missing required param: file.")
        if params.get("purpose") not in ("dispute_evidence", "identity_document", "business_logo"):
            return _error(400, "invalid_request_error", f"Invalid purpose: {params.get('purpose')}")
        created = {"id": _new_id("file"), "object": "file", "purpose": params["purpose"], "size": len(upload["data"]),
                   "filename": upload["filename"], "type": upload["filename"].rsplit(".", 1)[-1], "account": caller,
                   "data": upload["data"]}
        self.files[created["id"]] = created
        return 200, {k: v for k, v in created.items() if k not in ("data", "account")}, {}

    def _disputes(self, method, path, params, caller):
        match = re.fullmatch(r"/v1/disputes/(\w+)", path)
        dispute = self.disputes.get(match[1]) if match else None
        if dispute is None or dispute["account"] != caller:
            return _error(404, "invalid_request_error", f"No such dispute: '{match[1] if match else ''}'")
        if method == "GET":
            return 200, _public(dispute), {}
        refused = self._evidence_refusal(dispute, params.get("evidence") or {}, caller)
        if refused:
            return refused
        dispute["evidence"] = {**dispute["evidence"], **(params.get("evidence") or {})}
        dispute["evidence_details"]["has_evidence"] = True
        if params.get("submit", "true") == "true":
            dispute["status"] = "under_review"
            dispute["evidence_details"]["submission_count"] += 1
            self._emit(caller, se.event("charge.dispute.updated", _public(dispute), None))
        return 200, _public(dispute), {}

    def _evidence_refusal(self, dispute, evidence, caller):
        if dispute["status"] not in ANSWERABLE:
            closed = dispute["status"] in ("won", "lost", "warning_closed")
            return _error(400, "invalid_request_error", ALREADY_CLOSED if closed else ALREADY_SUBMITTED)
        if time.time() > dispute["evidence_details"]["due_by"]:
            return _error(400, "invalid_request_error", PAST_DUE)
        for name, value in evidence.items():
            if name not in EVIDENCE_FILE_FIELDS | EVIDENCE_TEXT_FIELDS:
                return _error(400, "invalid_request_error", f"Received unknown parameter: evidence[{name}]")
            stored = self.files.get(value) if name in EVIDENCE_FILE_FIELDS else None
            if name in EVIDENCE_FILE_FIELDS and (stored is None or stored["account"] != caller
                                                 or stored["purpose"] != "dispute_evidence"):
                return _error(400, "invalid_request_error", f"No such file upload: '{value}'")
        return None


def _public(dispute: dict) -> dict:
    return {k: v for k, v in dispute.items() if k != "account"}


def multipart(content_type: str, body: bytes) -> dict:
    """A multipart/form-data body as params; a file part becomes {"filename", "content_type", "data"}."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    pairs, files = [], {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            files[name] = {"filename": part.get_filename(), "content_type": part.get_content_type(), "data": data}
        else:
            pairs.append((name, data.decode()))
    return {**nested(pairs), **files}


def _bearer(headers) -> str | None:
    value = headers.get("Authorization") or ""
    return value[7:] if value.startswith("Bearer ") else None


def _error(status: int, kind: str, message: str) -> tuple[int, dict, dict]:
    return status, {"error": {"type": kind, "message": message}}, {}


def serve() -> tuple[FakeStripe, ThreadingHTTPServer]:
    """Start the fake on a free loopback port; stop it with `server.shutdown()`."""
    fake = FakeStripe()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            content_type = self.headers.get("Content-Type") or ""
            if content_type.startswith("multipart/form-data"):
                params = {**nested(parse_qsl(parts.query)), **multipart(content_type, raw)}
            else:
                params = nested(parse_qsl(parts.query, keep_blank_values=True)
                                + parse_qsl(raw.decode(), keep_blank_values=True))
            with fake.lock:
                status, body, extra = fake.handle(method, parts.path, self.headers, params)
            payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html" if isinstance(body, str) else "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Request-Id", _new_id("req"))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            self._answer("GET")

        def do_POST(self):
            self._answer("POST")

        def do_DELETE(self):
            self._answer("DELETE")

        def log_message(self, *args):  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.base = f"http://127.0.0.1:{server.server_port}"
    # A short poll: shutdown() waits for the loop to look, and every test that uses the fake pays that wait.
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return fake, server


@contextmanager
def pointed_at_fake(app):
    """The app's Stripe settings aimed at a fresh fake for the duration; the fake, its webhooks sent to the app."""
    fake, server = serve()
    settings = {"STRIPE_API_BASE": fake.base, "STRIPE_CONNECT_BASE": fake.base, "STRIPE_FILES_BASE": fake.base,
                "STRIPE_SECRET_KEY": PLATFORM_KEY, "STRIPE_CLIENT_ID": CLIENT_ID,
                "STRIPE_WEBHOOK_SECRET": se.WEBHOOK_SECRET, "PUBLIC_BASE_URL": PUBLIC_BASE_URL}
    saved = {name: app.config[name] for name in settings}
    app.config.update(settings)
    fake.platform_webhook_url = f"{PUBLIC_BASE_URL}/webhooks/stripe"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        app.config.update(saved)
