"""Microsoft Graph's mail calls as the fake Microsoft (tests/fake_microsoft.py) serves them to the real `requests`:
create a draft, send it, find it in Sent Items, read the inbox by delta, fetch a message's MIME, each refused
without the Mail.* permission Graph asks for it. Knobs break one thing at a time: expired tokens, a throttled send,
a send whose answer never arrives, Sent Items that lag behind a send.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import compat32
from email.utils import formataddr, getaddresses, make_msgid
from http.client import HTTPMessage
from urllib.parse import parse_qsl, quote

from tests.fake_https import Reply, Request, json_body, json_reply, number_or_none
from tests.fake_provider import DEFAULT_USER, AccessToken, FakeProvider, bearer_token

_GRAPH_RESOURCE = "https://graph.microsoft.com/"
# Which delegated permissions let a token make each Graph call (any one of them is enough).
_MAIL_READ = frozenset({"mail.read", "mail.readwrite", "mail.read.shared", "mail.readwrite.shared"})
_MAIL_LIST = _MAIL_READ | {"mail.readbasic", "mail.readbasic.shared"}
_MAIL_WRITE = frozenset({"mail.readwrite", "mail.readwrite.shared"})
_MAIL_SEND = frozenset({"mail.send", "mail.send.shared"})
_ANY = frozenset()  # /me: apps get User.Read by default, so Graph does not refuse it in practice
_FILTER = re.compile(r"\s*internetMessageId\s+eq\s+'((?:[^']|'')*)'\s*", re.IGNORECASE)
_FOLDER_CALL = re.compile(r"/mailFolders\('([^']*)'\)", re.IGNORECASE)  # Graph's links use this form
_MAX_PAGE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)
_THROTTLE_CODES = {429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
                   503: ("ServiceNotAvailable", "Service Unavailable"),
                   504: ("GatewayTimeout", "Gateway Timeout")}


@dataclass
class _Stored:
    owner: str
    folder: str  # "drafts", "sentitems" or "inbox"
    message: dict
    raw: bytes | None = None
    visible_at: float = 0.0


@dataclass
class _Call:
    """One authenticated Graph request, as the route handlers see it."""

    user: str
    args: tuple[str, ...]
    query: dict[str, str]
    headers: HTTPMessage
    body: bytes


@dataclass
class GraphApi(FakeProvider):
    send_retry_after: str | None = None  # "2": send answers Retry-After: 2, Sent Items shows the mail 2 s later
    graph_calls: int = 0  # requests to Graph, answered or refused
    messages: dict[str, _Stored] = field(default_factory=dict)

    @property
    def graph(self) -> str:
        return f"{self.base}/v1.0"

    def deliver(self, raw_mime: bytes, to: str = DEFAULT_USER) -> str:
        """A message arrives in the user's inbox; returns its Graph id."""
        headers = BytesParser(policy=compat32).parsebytes(raw_mime, headersonly=True)
        internet_message_id = (headers.get("Message-ID") or "").strip()
        if not internet_message_id:  # Exchange gives every message one, and it is in the MIME from then on
            internet_message_id = make_msgid(domain="fake.outlook.example")
            raw_mime = f"Message-ID: {internet_message_id}\r\n".encode() + raw_mime
        with self.lock:
            message_id = self._new_id("inbox")
            now = _iso(self.clock())
            sender = _recipients(headers.get("From"))
            message = {"id": message_id, "createdDateTime": now, "lastModifiedDateTime": now, "receivedDateTime": now,
                       "sentDateTime": now, "subject": str(headers.get("Subject") or ""),
                       "internetMessageId": internet_message_id, "from": sender[0] if sender else None,
                       "sender": sender[0] if sender else None, "toRecipients": _recipients(headers.get("To")),
                       "ccRecipients": _recipients(headers.get("Cc")), "isRead": False, "isDraft": False,
                       "parentFolderId": "inbox", "conversationId": _conversation(internet_message_id)}
            self.messages[message_id] = _Stored(to, "inbox", message, raw=raw_mime)
        return message_id

    def times_sent(self, internet_message_id: str) -> int:
        """How many times a message left: more than once is a duplicate reminder."""
        return sum(1 for message in self.sent if message["internetMessageId"] == internet_message_id)

    # --- Microsoft Graph -------------------------------------------------------------------------------

    def _graph(self, request: Request) -> Reply | None:
        self.graph_calls += 1
        token = self._access_token(request.headers)
        if isinstance(token, Reply):
            return token
        path = self._as_me(_FOLDER_CALL.sub(r"/mailFolders/\1", request.path.removeprefix("/v1.0")), token.user)
        if path is None:
            return _graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        for verb, pattern, permissions, handler in _GRAPH_ROUTES:
            match = pattern.fullmatch(path)
            if verb != request.method or match is None:
                continue
            if self.enforce_scopes and permissions and not permissions & {permission(s) for s in token.scopes}:
                return _graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
            query = dict(parse_qsl(request.query, keep_blank_values=True))
            return handler(self, _Call(token.user, match.groups(), query, request.headers, request.body))
        segment = path.rstrip("/").rsplit("/", 1)[-1]
        return _graph_error(400, "BadRequest", f"Resource not found for the segment '{segment}'.")

    def _access_token(self, headers: HTTPMessage) -> AccessToken | Reply:
        if not bearer_token(headers):
            return _unauthorized("Access token is empty.")
        token = self._live_access_token(headers)
        if token is None:
            return _unauthorized("Access token has expired or is not yet valid.")
        return token

    def _as_me(self, path: str, user: str) -> str | None:
        """/users/{id or UPN}/... is the same as /me/... for the signed-in user, and refused for anyone else."""
        if not path.startswith("/users/"):
            return path
        who, _, rest = path.removeprefix("/users/").partition("/")
        if who.lower() not in (user.lower(), self.users[user]["id"].lower()):
            return None
        return f"/me/{rest}".rstrip("/")

    def _me(self, call: _Call) -> Reply:
        user = self.users[call.user]
        return json_reply(200, {"@odata.context": f"{self.graph}/$metadata#users/$entity", "id": user["id"],
                                "displayName": user["displayName"], "mail": call.user,
                                "userPrincipalName": call.user})

    def _create_draft(self, call: _Call) -> Reply:
        payload = json_body(call.body)
        if payload is None:
            return _graph_error(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type "
                                                   "header is set and payload is of valid JSON format.")
        for header in payload.get("internetMessageHeaders") or []:
            if not str(header.get("name", "")).lower().startswith("x-"):
                return _graph_error(400, "InvalidInternetMessageHeader",
                                    f"The internet message header name '{header.get('name')}' should start with "
                                    "'x-' or 'X-'.")
        message = self._draft(call.user, payload)
        self.messages[message["id"]] = _Stored(call.user, "drafts", message)
        return json_reply(201, {"@odata.context": f"{self.graph}/$metadata#users('{call.user}')/messages/$entity",
                                **message})

    def _draft(self, owner: str, payload: dict) -> dict:
        now = _iso(self.clock())
        me = {"emailAddress": {"name": self.users[owner]["displayName"], "address": owner}}
        internet_message_id = payload.get("internetMessageId") or make_msgid(domain="fake.outlook.example")
        message = {"id": self._new_id("draft"), "createdDateTime": now, "lastModifiedDateTime": now,
                    "receivedDateTime": now, "sentDateTime": None, "subject": payload.get("subject") or "",
                    "body": payload.get("body") or {"contentType": "text", "content": ""},
                    "from": payload.get("from") or me, "sender": me,
                    "toRecipients": payload.get("toRecipients") or [],
                    "ccRecipients": payload.get("ccRecipients") or [],
                    "bccRecipients": payload.get("bccRecipients") or [], "replyTo": payload.get("replyTo") or [],
                    "internetMessageId": internet_message_id, "conversationId": _conversation(internet_message_id),
                    "isDraft": True, "isRead": True, "parentFolderId": "drafts"}
        if payload.get("internetMessageHeaders"):
            message["internetMessageHeaders"] = payload["internetMessageHeaders"]
        return message

    def _get_message(self, call: _Call) -> Reply:
        stored = self._find(call.user, call.args[0])
        if stored is None:
            return _not_found()
        return json_reply(200, _project(stored.message, call.query.get("$select")))

    def _get_mime(self, call: _Call) -> Reply:
        stored = self._find(call.user, call.args[0])
        if stored is None:
            return _not_found()
        return Reply(200, stored.raw or _mime_of(stored.message), {"Content-Type": "text/plain"})

    def _delete_message(self, call: _Call) -> Reply:
        """Graph moves a deleted item to Deleted Items; here it simply goes, which is all a client can tell."""
        if self._find(call.user, call.args[0]) is None:
            return _not_found()
        del self.messages[call.args[0]]
        return Reply(204)

    def _send(self, call: _Call) -> Reply | None:
        script = self._next_send()
        if script and script[0] == "status":
            _, status, retry_after = script
            code, message = _THROTTLE_CODES.get(status, ("ErrorInternalServerError", "An internal server error "
                                                                                     "occurred."))
            extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            return _graph_error(status, code, message, extra)
        stored = self._find(call.user, call.args[0])
        if stored is None or stored.folder != "drafts":  # a sent draft has moved to Sent Items under a new id
            return _not_found()
        message = stored.message
        if not (message["toRecipients"] or message["ccRecipients"] or message["bccRecipients"]):
            return _graph_error(400, "ErrorInvalidRecipients", "At least one recipient isn't valid., A message "
                                                               "can't be sent because it contains no recipients.")
        sender = (message["from"].get("emailAddress") or {}).get("address", "")
        if not self._may_send_from(call.user, sender):
            return _graph_error(403, "ErrorSendAsDenied", "The user account which was used to submit this request "
                                                          "does not have the right to send mail on behalf of the "
                                                          "specified sending account., Cannot submit message.")
        self._move_to_sent(call.args[0], stored)
        if script and script[0] == "drop_after_send":
            return None
        extra = {"Retry-After": str(self.send_retry_after)} if self.send_retry_after else {}
        return Reply(202, headers=extra)

    def _move_to_sent(self, draft_id: str, draft: _Stored) -> None:
        now = self.clock()
        del self.messages[draft_id]
        message = {**draft.message, "id": self._new_id("sent"), "isDraft": False, "sentDateTime": _iso(now),
                   "lastModifiedDateTime": _iso(now), "parentFolderId": "sentitems"}
        # Graph sends asynchronously: the copy in Sent Items appears after about the Retry-After it answered.
        visible_at = now + float(self.send_retry_after or 0)
        self.messages[message["id"]] = _Stored(draft.owner, "sentitems", message, visible_at=visible_at)
        self.sent.append(message)

    def _list_folder(self, call: _Call) -> Reply:
        folder = call.args[0].lower()
        if folder not in ("inbox", "sentitems", "drafts"):
            return _graph_error(404, "ErrorItemNotFound", "The specified folder could not be found in the store.")
        found = self._folder(call.user, folder)
        wanted = call.query.get("$filter")
        if wanted is not None:
            match = _FILTER.fullmatch(wanted)
            if match is None:
                return _graph_error(400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more "
                                                                       "invalid nodes.")
            internet_message_id = match.group(1).replace("''", "'")
            found = [s for s in found if s.message["internetMessageId"] == internet_message_id]
        top = number_or_none(call.query.get("$top") or "") or 10
        skip = number_or_none(call.query.get("$skip") or "") or 0
        select = call.query.get("$select")
        body: dict = {"@odata.context": f"{self.graph}/$metadata#users('{call.user}')/mailFolders('{folder}')/messages",
                      "value": [_project(s.message, select) for s in found[skip:skip + top]]}
        if skip + top < len(found):
            body["@odata.nextLink"] = self._link(f"mailFolders('{folder}')/messages",
                                                 {**call.query, "$skip": str(skip + top)})
        return json_reply(200, body)

    def _delta(self, call: _Call) -> Reply:
        """Delta over the inbox, whose messages only ever arrive: a token is how many of them were already seen."""
        if call.args[0].lower() != "inbox":
            return _graph_error(400, "BadRequest", "This fake keeps delta for the inbox only.")
        inbox = self._folder(call.user, "inbox")
        token = call.query.get("$deltatoken") or call.query.get("$skiptoken") or "0"
        start = len(inbox) if token == "latest" else number_or_none(token)
        if start is None or not 0 <= start <= len(inbox):
            return _graph_error(410, "SyncStateNotFound", "The sync state generation is not found. Start a new sync "
                                                          "without a delta token.")
        page = [] if token == "latest" else inbox[start:start + self._page_size(call.headers)]
        end = start + len(page)
        select = call.query.get("$select")
        links = {"$select": select} if select else {}
        body: dict = {"@odata.context": f"{self.graph}/$metadata#Collection(message)",
                      "value": [_project(s.message, select) for s in page]}
        if end < len(inbox):
            body["@odata.nextLink"] = self._link("mailFolders('inbox')/messages/delta", {**links, "$skiptoken": end})
        else:
            body["@odata.deltaLink"] = self._link("mailFolders('inbox')/messages/delta", {**links, "$deltatoken": end})
        return json_reply(200, body)

    def _page_size(self, headers: HTTPMessage) -> int:
        prefer = _MAX_PAGE.search(headers.get("Prefer") or "")
        return max(1, int(prefer.group(1))) if prefer else self.page_size

    def _link(self, resource: str, params: dict) -> str:
        query = "&".join(f"{name}={quote(str(value), safe=',')}" for name, value in params.items())
        return f"{self.graph}/me/{resource}?{query}"

    def _folder(self, user: str, folder: str) -> list[_Stored]:
        now = self.clock()
        return [s for s in self.messages.values() if s.owner == user and s.folder == folder and s.visible_at <= now]

    def _find(self, user: str, message_id: str) -> _Stored | None:
        stored = self.messages.get(message_id)
        if stored is None or stored.owner != user or stored.visible_at > self.clock():
            return None
        return stored

    def _new_id(self, kind: str) -> str:
        return f"AAMk-{kind}-{next(self._ids)}"


_GRAPH_ROUTES: list[tuple[str, re.Pattern[str], frozenset[str], Callable[..., Reply | None]]] = [
    ("GET", re.compile(r"(?i)/me"), _ANY, GraphApi._me),
    ("POST", re.compile(r"(?i)/me/messages"), _MAIL_WRITE, GraphApi._create_draft),
    ("GET", re.compile(r"(?i)/me/messages/([^/]+)"), _MAIL_LIST, GraphApi._get_message),
    ("GET", re.compile(r"(?i)/me/messages/([^/]+)/\$value"), _MAIL_READ, GraphApi._get_mime),
    ("POST", re.compile(r"(?i)/me/messages/([^/]+)/send"), _MAIL_SEND, GraphApi._send),
    ("DELETE", re.compile(r"(?i)/me/messages/([^/]+)"), _MAIL_WRITE, GraphApi._delete_message),
    ("GET", re.compile(r"(?i)/me/mailFolders/([^/]+)/messages"), _MAIL_LIST, GraphApi._list_folder),
    ("GET", re.compile(r"(?i)/me/mailFolders/([^/]+)/messages/delta"), _MAIL_LIST, GraphApi._delta),
]


# --- Small pieces of the protocol ---------------------------------------------------------------------------


def permission(scope: str) -> str:
    """A delegated permission as Graph compares them: lower case, with or without its resource."""
    return scope.lower().removeprefix(_GRAPH_RESOURCE)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _conversation(internet_message_id: str) -> str:
    return f"AAQk-{hashlib.sha256(internet_message_id.encode()).hexdigest()[:16]}"


def _recipients(header: str | None) -> list[dict]:
    return [{"emailAddress": {"name": name, "address": address}}
            for name, address in getaddresses([str(header or "")]) if address]


def _project(message: dict, select: str | None) -> dict:
    """$select: the id always, then only the named properties."""
    if not select:
        return dict(message)
    names = [name.strip() for name in select.split(",")]
    return {"@odata.etag": f'W/"{message["id"]}"', "id": message["id"],
            **{name: message.get(name) for name in names if name != "id"}}


def _mime_of(message: dict) -> bytes:
    """The MIME of a message created through Graph (arrived ones keep what arrived)."""
    mime = EmailMessage()
    mime["Message-ID"] = message["internetMessageId"]
    mime["Subject"] = message.get("subject") or ""
    mime["From"] = _address(message["from"])
    for header, key in (("To", "toRecipients"), ("Cc", "ccRecipients")):
        if message.get(key):
            mime[header] = ", ".join(_address(recipient) for recipient in message[key])
    for header in message.get("internetMessageHeaders") or []:
        mime[header["name"]] = header["value"]
    body = message.get("body") or {}
    subtype = "html" if str(body.get("contentType", "text")).lower() == "html" else "plain"
    mime.set_content(body.get("content") or "", subtype=subtype)
    return mime.as_bytes()


def _address(recipient: dict) -> str:
    address = recipient.get("emailAddress") or {}
    return formataddr((address.get("name") or "", address.get("address") or ""))


def _graph_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    request_id = str(uuid.uuid4())
    inner = {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": request_id,
             "client-request-id": request_id}
    return json_reply(status, {"error": {"code": code, "message": message, "innerError": inner}}, headers)


def _unauthorized(message: str) -> Reply:
    challenge = 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"'
    return _graph_error(401, "InvalidAuthenticationToken", message, {"WWW-Authenticate": challenge})


def _not_found() -> Reply:
    return _graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")

