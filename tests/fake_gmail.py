"""Gmail's API as the fake Google (tests/fake_google.py) serves it to the real `requests` and `google-auth`: the calls
Plixo makes (create a draft, send it, find it by its Message-ID, read new inbox mail through history, fetch a
message's MIME), each refused without the scope Gmail asks for it. Knobs break one thing at a time: expired or
revoked tokens, a throttled send, a send whose answer never arrives, history too old to read.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32, default
from email.utils import getaddresses, make_msgid
from urllib.parse import parse_qs

from tests.fake_https import Reply, Request, json_body, json_reply, number_or_none
from tests.fake_provider import DEFAULT_USER, FakeProvider

SCOPE_URL = "https://www.googleapis.com/auth/"
MAIL_FULL = "https://mail.google.com/"
GMAIL_COMPOSE = SCOPE_URL + "gmail.compose"
GMAIL_SEND = SCOPE_URL + "gmail.send"
GMAIL_READONLY = SCOPE_URL + "gmail.readonly"
GMAIL_MODIFY = SCOPE_URL + "gmail.modify"
GMAIL_METADATA = SCOPE_URL + "gmail.metadata"
FIRST_HISTORY_ID = 4200
GOOGLE_JSON = "application/json; charset=UTF-8"

# Which scopes let a token make each Gmail call (any one of them is enough), from Gmail's reference.
_MODIFY = frozenset({MAIL_FULL, GMAIL_MODIFY})
_PROFILE = _MODIFY | {GMAIL_COMPOSE, GMAIL_READONLY, GMAIL_METADATA}
_COMPOSE = _MODIFY | {GMAIL_COMPOSE}
_DRAFT_READ = _COMPOSE | {GMAIL_READONLY}
_SEND = _COMPOSE | {GMAIL_SEND}
_READ = _MODIFY | {GMAIL_READONLY, GMAIL_METADATA}
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
_THROTTLE = {429: ("User-rate limit exceeded.", "rateLimitExceeded", "usageLimits"),
             500: ("Backend Error", "backendError", "global"),
             503: ("The service is currently unavailable.", "backendError", "global")}
_NO_RAW = "'raw' RFC822 payload message string or uploading message via /upload/* URL required"
_LABELS = {"sent": "SENT", "inbox": "INBOX", "drafts": "DRAFT", "draft": "DRAFT", "unread": "UNREAD",
           "starred": "STARRED", "spam": "SPAM", "trash": "TRASH"}
_USER_PATH = re.compile(r"/users/([^/]+)(/.*)?")

@dataclass
class _Stored:
    id: str
    owner: str
    thread_id: str
    labels: list[str]
    raw: bytes
    message_id: str  # the Message-ID header, angle brackets included
    internal_date: int  # epoch milliseconds, as Gmail's internalDate
    history_id: int


@dataclass
class _Change:
    """One history record: a message added to or deleted from the mailbox."""

    id: int
    owner: str
    kind: str  # "messageAdded" or "messageDeleted"
    message: dict  # id, threadId and labelIds at the time


@dataclass
class _Call:
    """One authenticated Gmail request, as the route handlers see it."""

    user: str
    args: tuple[str, ...]
    query: dict[str, list[str]]
    body: bytes
    scopes: frozenset[str]

    def param(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class GmailApi(FakeProvider):
    history_id: int = FIRST_HISTORY_ID  # the mailbox's current historyId; every change adds one
    oldest_history_id: int = FIRST_HISTORY_ID  # an older startHistoryId is answered 404
    messages: dict[str, _Stored] = field(default_factory=dict)
    drafts: dict[str, str] = field(default_factory=dict)  # draft id -> its message's id
    history: list[_Change] = field(default_factory=list)

    @property
    def gmail(self) -> str:
        return f"{self.base}/gmail/v1"

    def expire_history(self) -> None:
        """Gmail keeps history for about a week: every historyId seen so far becomes too old to start from."""
        with self.lock:
            self.oldest_history_id = self.history_id

    def deliver(self, raw_mime: bytes, to: str = DEFAULT_USER) -> str:
        """A message arrives in the user's inbox, unread; returns its Gmail id."""
        with self.lock:
            raw_mime, message_id = _with_message_id(raw_mime)
            stored = self._store(to, raw_mime, message_id, ["INBOX", "UNREAD"], self._thread_of(to, raw_mime, None))
        return stored.id

    def times_sent(self, message_id_header: str) -> int:
        """How many times a message left: more than once is a duplicate reminder."""
        wanted = _bare_id(message_id_header)
        return sum(1 for message in self.sent if _bare_id(message["message_id"]) == wanted)

    # --- Gmail ---------------------------------------------------------------------------------------

    def _gmail(self, request: Request) -> Reply | None:
        token = self._live_access_token(request.headers)
        if token is None:
            return _unauthenticated()
        match = _USER_PATH.fullmatch(request.path.removeprefix("/gmail/v1"))
        if match is None:
            return _gmail_error(404, "Not Found", "notFound")
        who, rest = match.group(1), match.group(2) or ""
        if who != "me" and who.lower() != token.user.lower():
            return _gmail_error(403, f"Delegation denied for {token.user}", "forbidden")
        for verb, pattern, scopes, handler in _GMAIL_ROUTES:
            found = pattern.fullmatch(rest)
            if verb != request.method or found is None:
                continue
            if self.enforce_scopes and not scopes & token.scopes:
                return _insufficient_scopes()
            query = parse_qs(request.query, keep_blank_values=True)
            return handler(self, _Call(token.user, found.groups(), query, request.body, token.scopes))
        return _gmail_error(404, "Not Found", "notFound")

    def _profile(self, call: _Call) -> Reply:
        mine = self._mailbox(call.user)
        return google_json(200, {"emailAddress": call.user, "messagesTotal": len(mine),
                                 "threadsTotal": len({stored.thread_id for stored in mine}),
                                 "historyId": str(self.history_id)})

    def _create_draft(self, call: _Call) -> Reply:
        payload = json_body(call.body)
        if payload is None:
            return _gmail_error(400, "Invalid JSON payload received.", "invalid")
        message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
        raw = _decode_raw(message.get("raw"))
        if isinstance(raw, Reply):
            return raw
        stored = self._compose(call.user, raw, ["DRAFT"], message.get("threadId"))
        draft_id = f"r-{4_718_391_027_463_512_000 + next(self._ids)}"
        self.drafts[draft_id] = stored.id
        return google_json(200, {"id": draft_id, "message": _summary(stored)})

    def _get_draft(self, call: _Call) -> Reply:
        stored = self._draft(call.user, call.args[0])
        if stored is None:  # sent (the draft is gone) or deleted
            return _not_found()
        resource = _resource(stored, call.param("format", "full"), [])
        return google_json(200, {"id": call.args[0], "message": resource})

    def _delete_draft(self, call: _Call) -> Reply:
        stored = self._draft(call.user, call.args[0])
        if stored is None:
            return _not_found()
        del self.drafts[call.args[0]]
        self._remove(stored)
        return Reply(204)

    def _send_draft(self, call: _Call) -> Reply | None:
        script = self._next_send()
        if script and script[0] == "status":
            return self._throttled(*script[1:])
        payload = json_body(call.body)
        draft_id = str((payload or {}).get("id") or "")
        if not draft_id:
            return _gmail_error(400, "Invalid draft", "invalidArgument")
        stored = self._draft(call.user, draft_id)
        if stored is None:  # sent already (the draft is gone) or deleted
            return _not_found()
        if not _recipients(stored.raw):
            return _gmail_error(400, "Recipient address required", "invalidArgument")
        del self.drafts[draft_id]
        self._remove(stored)
        sent = self._sent(call.user, stored.raw, stored.thread_id, draft_id)
        return None if script and script[0] == "drop_after_send" else google_json(200, _summary(sent))

    def _send_message(self, call: _Call) -> Reply | None:
        script = self._next_send()
        if script and script[0] == "status":
            return self._throttled(*script[1:])
        payload = json_body(call.body) or {}
        raw = _decode_raw(payload.get("raw"))
        if isinstance(raw, Reply):
            return raw
        if not _recipients(raw):
            return _gmail_error(400, "Recipient address required", "invalidArgument")
        raw, _message_id = self._outgoing(call.user, raw)
        sent = self._sent(call.user, raw, self._thread_of(call.user, raw, payload.get("threadId")), None)
        return None if script and script[0] == "drop_after_send" else google_json(200, _summary(sent))

    def _throttled(self, status: int, retry_after: str | int | None) -> Reply:
        """A scripted send failure, before anything is sent; Gmail puts the time to retry in the message."""
        message, reason, domain = _THROTTLE.get(status, ("Backend Error", "backendError", "global"))
        if retry_after is not None and status == 429:
            later = datetime.fromtimestamp(self.clock() + float(retry_after), UTC)
            message = f"{message}  Retry after {later.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z"
        extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return _gmail_error(status, message, reason, extra, domain)

    def _sent(self, user: str, raw: bytes, thread_id: str, draft_id: str | None) -> _Stored:
        """The message leaves: a new message labelled SENT (a sent draft does not keep its message's id)."""
        message_id = str(_headers(raw).get("Message-ID") or "").strip()
        stored = self._store(user, raw, message_id, ["SENT"], thread_id)
        self.sent.append({"id": stored.id, "threadId": stored.thread_id, "draft_id": draft_id,
                          "message_id": message_id, "raw": raw,
                          "message": BytesParser(policy=default).parsebytes(raw)})
        return stored

    def _list_messages(self, call: _Call) -> Reply:
        query = call.param("q")
        if query and not call.scopes & (_READ - {GMAIL_METADATA}):
            return _insufficient_scopes("Metadata scope does not support 'q' parameter")
        wanted = _query_labels(query)
        if isinstance(wanted, Reply):
            return wanted
        message_ids, labels = wanted
        labels += call.query.get("labelIds", [])
        found = [s for s in reversed(self._mailbox(call.user)) if _labelled(s, labels)
                 and all(_bare_id(s.message_id) == wanted_id for wanted_id in message_ids)]
        size = min(number_or_none(call.param("maxResults")) or 100, 500)
        start = number_or_none(call.param("pageToken")) or 0
        body: dict = {"resultSizeEstimate": len(found)}
        if found[start:start + size]:
            body["messages"] = [{"id": s.id, "threadId": s.thread_id} for s in found[start:start + size]]
        if start + size < len(found):
            body["nextPageToken"] = str(start + size)
        return google_json(200, body)

    def _get_message(self, call: _Call) -> Reply:
        stored = self._find(call.user, call.args[0])
        if stored is None:
            return _not_found()
        fmt = call.param("format", "full")
        if fmt not in ("raw", "full", "metadata", "minimal"):
            return _gmail_error(400, f"Invalid value at 'format' ({fmt})", "invalid")
        if fmt in ("raw", "full") and not call.scopes & (_READ - {GMAIL_METADATA}):
            return _insufficient_scopes(f"Metadata scope doesn't allow format {fmt.upper()}")
        return google_json(200, _resource(stored, fmt, call.query.get("metadataHeaders", [])))

    def _list_history(self, call: _Call) -> Reply:
        start = number_or_none(call.param("startHistoryId"))
        if start is None:
            return _gmail_error(400, "Invalid startHistoryId", "invalidArgument")
        if start < self.oldest_history_id:
            return _not_found()
        after = max(start, number_or_none(call.param("pageToken")) or 0)
        kinds = {kind for value in call.query.get("historyTypes", []) for kind in value.split(",") if kind}
        label = call.param("labelId")
        records = [change for change in self.history
                   if change.id > after and change.owner == call.user
                   and (not kinds or change.kind in kinds)
                   and (not label or label in change.message["labelIds"])]
        size = min(number_or_none(call.param("maxResults")) or 100, self.page_size)
        body: dict = {}
        if records:
            body["history"] = [_history_record(change) for change in records[:size]]
        if len(records) > size:
            body["nextPageToken"] = str(records[size - 1].id)
        body["historyId"] = str(self.history_id)
        return google_json(200, body)

    # --- The mailbox ------------------------------------------------------------------------------------

    def _compose(self, user: str, raw: bytes, labels: list[str], thread_id: str | None) -> _Stored:
        raw, message_id = self._outgoing(user, raw)
        return self._store(user, raw, message_id, labels, self._thread_of(user, raw, thread_id))

    def _outgoing(self, user: str, raw: bytes) -> tuple[bytes, str]:
        """What Gmail does to a message the user writes: a Message-ID if it has none, and the user's own From
        address unless the From is one of their send-as addresses."""
        raw, message_id = _with_message_id(raw, domain="mail.gmail.com")
        headers = _headers(raw)
        senders = [address for _name, address in getaddresses([str(headers.get("From") or "")]) if address]
        if not senders or not self._may_send_from(user, senders[0]):
            raw = _replace_header(raw, "From", user)
        return raw, message_id

    def _thread_of(self, user: str, raw: bytes, asked: str | None) -> str:
        """The thread a new message joins: the one asked for if it exists, else that of a message it replies to."""
        mine = self._mailbox(user)
        if asked and any(stored.thread_id == asked for stored in mine):
            return asked
        headers = _headers(raw)
        parents = re.findall(r"<[^>]+>", f"{headers.get('In-Reply-To') or ''} {headers.get('References') or ''}")
        for stored in mine:
            if stored.message_id in parents:
                return stored.thread_id
        return ""

    def _store(self, user: str, raw: bytes, message_id: str, labels: list[str], thread_id: str) -> _Stored:
        """Keep a new message; an empty thread_id starts a thread of its own."""
        message_key = f"{0x19A0_0000_0000_0000 + next(self._ids):x}"  # 16 hex digits, like Gmail's ids
        stored = _Stored(id=message_key, owner=user, thread_id=thread_id or message_key, labels=list(labels),
                         raw=raw, message_id=message_id, internal_date=int(self.clock() * 1000), history_id=0)
        self.messages[message_key] = stored
        stored.history_id = self._record("messageAdded", stored)
        return stored

    def _remove(self, stored: _Stored) -> None:
        del self.messages[stored.id]
        self._record("messageDeleted", stored)

    def _record(self, kind: str, stored: _Stored) -> int:
        self.history_id += 1
        self.history.append(_Change(self.history_id, stored.owner, kind, _summary(stored)))
        return self.history_id

    def _mailbox(self, user: str) -> list[_Stored]:
        return [stored for stored in self.messages.values() if stored.owner == user]

    def _find(self, user: str, message_key: str) -> _Stored | None:
        stored = self.messages.get(message_key)
        return stored if stored is not None and stored.owner == user else None

    def _draft(self, user: str, draft_id: str) -> _Stored | None:
        message_key = self.drafts.get(draft_id)
        return self._find(user, message_key) if message_key else None


_GMAIL_ROUTES: list[tuple[str, re.Pattern[str], frozenset[str], Callable[..., Reply | None]]] = [
    ("GET", re.compile(r"/profile"), _PROFILE, GmailApi._profile),
    ("POST", re.compile(r"/drafts"), _COMPOSE, GmailApi._create_draft),
    ("POST", re.compile(r"/drafts/send"), _COMPOSE, GmailApi._send_draft),
    ("GET", re.compile(r"/drafts/([^/]+)"), _DRAFT_READ, GmailApi._get_draft),
    ("DELETE", re.compile(r"/drafts/([^/]+)"), _COMPOSE, GmailApi._delete_draft),
    ("POST", re.compile(r"/messages/send"), _SEND, GmailApi._send_message),
    ("GET", re.compile(r"/messages"), _READ, GmailApi._list_messages),
    ("GET", re.compile(r"/messages/([^/]+)"), _READ, GmailApi._get_message),
    ("GET", re.compile(r"/history"), _READ, GmailApi._list_history),
]


def _decode_raw(raw: object) -> bytes | Reply:
    """Gmail's `raw`: base64url, padded or not."""
    if not isinstance(raw, str) or not raw:
        return _gmail_error(400, _NO_RAW, "invalidArgument")
    try:
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except ValueError:
        return _gmail_error(400, "Invalid value for ByteString", "invalid")


def _headers(raw: bytes) -> Message:
    return BytesParser(policy=compat32).parsebytes(raw, headersonly=True)


def _with_message_id(raw: bytes, domain: str = "mx.google.com") -> tuple[bytes, str]:
    """Keep the message's own Message-ID; Google gives one to a message that has none."""
    message_id = str(_headers(raw).get("Message-ID") or "").strip()
    if message_id:
        return raw, message_id
    message_id = make_msgid(domain=domain)
    return f"Message-ID: {message_id}\r\n".encode() + raw, message_id


def _replace_header(raw: bytes, name: str, value: str) -> bytes:
    """The message with every `name` header (continuation lines included) replaced by one at the top; the rest of
    the bytes untouched."""
    blank = re.search(rb"\r?\n\r?\n", raw)
    cut = blank.start() + (2 if raw[blank.start():blank.start() + 1] == b"\r" else 1) if blank else len(raw)
    head, rest = raw[:cut], raw[cut:]
    newline = b"\r\n" if b"\r\n" in head else b"\n"
    kept, dropping = [], False
    for line in head.splitlines(keepends=True):
        if line[:1] not in (b" ", b"\t"):
            dropping = line.split(b":", 1)[0].strip().lower() == name.lower().encode()
        if not dropping:
            kept.append(line)
    return f"{name}: {value}".encode() + newline + b"".join(kept) + rest


def _recipients(raw: bytes) -> list[str]:
    headers = _headers(raw)
    values = [str(headers.get(name) or "") for name in ("To", "Cc", "Bcc")]
    return [address for _name, address in getaddresses(values) if address]


def _bare_id(message_id: str) -> str:
    return message_id.strip().removeprefix("<").removesuffix(">")


def _query_labels(query: str) -> tuple[list[str], list[str]] | Reply:
    """The search operators this fake understands: rfc822msgid:, in:, label:, is:unread and is:read; labels to
    exclude come back prefixed with "-"."""
    message_ids: list[str] = []
    labels: list[str] = []
    for term in query.split():
        operator, _, value = term.partition(":")
        value = value.strip('"')
        if operator == "rfc822msgid" and value:
            message_ids.append(_bare_id(value))
        elif operator == "in" and value in _LABELS:
            labels.append(_LABELS[value])
        elif operator == "in" and value == "anywhere":
            continue
        elif operator == "label" and value:
            labels.append(_LABELS.get(value.lower(), value))
        elif operator == "is" and value in ("unread", "read"):
            labels.append("UNREAD" if value == "unread" else "-UNREAD")
        else:
            return _gmail_error(400, f"This fake does not understand the search term {term!r}.", "invalidArgument")
    if not any(label in ("SPAM", "TRASH") for label in labels):  # Gmail leaves these out unless asked
        labels += ["-SPAM", "-TRASH"]
    return message_ids, labels


def _labelled(stored: _Stored, labels: list[str]) -> bool:
    """Whether a message has every label asked and none of those excluded (prefixed with "-")."""
    return all(label[1:] not in stored.labels if label.startswith("-") else label in stored.labels
               for label in labels)


def _summary(stored: _Stored) -> dict:
    return {"id": stored.id, "threadId": stored.thread_id, "labelIds": list(stored.labels)}


def _resource(stored: _Stored, fmt: str, metadata_headers: list[str]) -> dict:
    """A Message in one of Gmail's formats: raw, full, metadata or minimal."""
    resource = {**_summary(stored), "snippet": _snippet(stored.raw), "sizeEstimate": len(stored.raw),
                "historyId": str(stored.history_id), "internalDate": str(stored.internal_date)}
    if fmt == "raw":
        resource["raw"] = base64.urlsafe_b64encode(stored.raw).decode()
    elif fmt == "metadata":
        parsed, wanted = _headers(stored.raw), {name.lower() for name in metadata_headers}
        headers = [{"name": name, "value": str(value)} for name, value in parsed.items()
                   if not wanted or name.lower() in wanted]
        resource["payload"] = {"mimeType": parsed.get_content_type(), "headers": headers}
    elif fmt == "full":
        resource["payload"] = _part(BytesParser(policy=compat32).parsebytes(stored.raw), "")
    return resource


def _part(part: Message, part_id: str) -> dict:
    payload: dict = {"partId": part_id, "mimeType": part.get_content_type(), "filename": part.get_filename() or "",
                     "headers": [{"name": name, "value": str(value)} for name, value in part.items()]}
    if part.is_multipart():
        children = part.get_payload()
        prefix = f"{part_id}." if part_id else ""
        payload["body"] = {"size": 0}
        payload["parts"] = [_part(child, f"{prefix}{index}") for index, child in enumerate(children)]
    else:
        data = part.get_payload(decode=True) or b""
        payload["body"] = {"size": len(data), "data": base64.urlsafe_b64encode(data).decode()}
    return payload


def _snippet(raw: bytes) -> str:
    message = BytesParser(policy=compat32).parsebytes(raw)
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            text = (part.get_payload(decode=True) or b"").decode(part.get_content_charset() or "utf-8", "replace")
            return html.escape(" ".join(text.split())[:200])
    return ""


def _history_record(change: _Change) -> dict:
    message = change.message
    plural = {"messageAdded": "messagesAdded", "messageDeleted": "messagesDeleted"}[change.kind]
    return {"id": str(change.id), "messages": [{"id": message["id"], "threadId": message["threadId"]}],
            plural: [{"message": message}]}


def google_json(status: int, payload: object, headers: dict[str, str] | None = None) -> Reply:
    return json_reply(status, payload, headers, content_type=GOOGLE_JSON)


def _gmail_error(status: int, message: str, reason: str, headers: dict[str, str] | None = None,
                 domain: str = "global") -> Reply:
    return google_json(status, {"error": {"code": status, "message": message,
                                          "errors": [{"message": message, "domain": domain, "reason": reason}],
                                          "status": _STATUS.get(status, "UNKNOWN")}}, headers)


def _not_found() -> Reply:
    return _gmail_error(404, "Requested entity was not found.", "notFound")


def _unauthenticated() -> Reply:
    return google_json(401, {"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                                       "errors": [{"message": "Invalid Credentials", "domain": "global",
                                                   "reason": "authError", "location": "Authorization",
                                                   "locationType": "header"}],
                                       "status": "UNAUTHENTICATED"}},
                       {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'})


def _insufficient_scopes(message: str = "Request had insufficient authentication scopes.") -> Reply:
    return _gmail_error(403, message, "insufficientPermissions",
                        {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", '
                                             'error="insufficient_scope"'})

