"""The fake Google answers the real google-auth-oauthlib, google-auth and requests the way Google does, so tests built
on it mean something."""

from __future__ import annotations

import base64
import json
from email.message import EmailMessage
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from google.auth import exceptions as google_exceptions
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2 import id_token
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749 import errors as oauth_errors

from tests.fake_gmail import GMAIL_COMPOSE, GMAIL_READONLY, GMAIL_SEND
from tests.fake_google import DEFAULT_USER, ISSUER, USERINFO_EMAIL, FakeGoogle, start

SCOPES = ["openid", USERINFO_EMAIL, GMAIL_COMPOSE, GMAIL_READONLY]
REDIRECT = "https://plixo.example/connectors/google/callback"


@pytest.fixture
def fake():
    server = start()
    yield server
    server.stop()


def _session(fake: FakeGoogle) -> requests.Session:
    """REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE are set here and would override `verify` unless trust_env is off."""
    session = requests.Session()
    session.verify, session.trust_env = fake.ca_file, False
    return session


def _flow(fake: FakeGoogle, scopes: list[str] = SCOPES, **kwargs) -> Flow:
    flow = Flow.from_client_config(fake.client_config(REDIRECT), scopes=scopes, redirect_uri=REDIRECT, **kwargs)
    flow.oauth2session.verify, flow.oauth2session.trust_env = fake.ca_file, False
    return flow


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def _issue_through_flow(fake: FakeGoogle, **authorization) -> dict:
    """Sign in with one Flow for both legs, for tests about what comes after."""
    flow = _flow(fake)
    url, _state = flow.authorization_url(prompt="consent", **authorization)
    return flow.fetch_token(code=_query(fake.authorize(url))["code"])


def _credentials(fake: FakeGoogle, token: dict) -> Credentials:
    return Credentials(token["access_token"], refresh_token=token.get("refresh_token"), token_uri=fake.token_uri,
                       client_id=fake.client_id, client_secret=fake.client_secret, scopes=SCOPES)


def _gmail(fake: FakeGoogle, method: str, path: str, token: str, **kwargs) -> requests.Response:
    return _session(fake).request(method, f"{fake.gmail}/users/me{path}", timeout=10,
                                  headers={"Authorization": f"Bearer {token}"}, **kwargs)


def _mime(message_id: str, to: str = "ap@globex.example", subject: str = "Invoice INV-7001 is overdue",
          **headers: str) -> bytes:
    mime = EmailMessage()
    mime["From"], mime["To"], mime["Subject"], mime["Message-ID"] = DEFAULT_USER, to, subject, message_id
    for name, value in headers.items():
        mime[name.replace("_", "-")] = value
    mime.set_content("Please pay $1,250.00.")
    return mime.as_bytes()


def _draft(fake: FakeGoogle, token: str, message_id: str) -> dict:
    raw = base64.urlsafe_b64encode(_mime(message_id)).decode()
    response = _gmail(fake, "POST", "/drafts", token, json={"message": {"raw": raw}})
    assert response.status_code == 200, response.text
    return response.json()


def _search(fake: FakeGoogle, token: str, query: str) -> dict:
    response = _gmail(fake, "GET", "/messages", token, params={"q": query})
    assert response.status_code == 200, response.text
    return response.json()


def test_code_flow_with_pkce_across_two_requests_gives_tokens_and_a_verifiable_id_token(fake):
    first = _flow(fake)
    url, state = first.authorization_url(prompt="consent", nonce="n-0S6_WzA2Mj")
    kept = {"state": state, "code_verifier": first.code_verifier}  # what the app keeps in its session
    params = _query(url)
    assert (params["code_challenge_method"], params["access_type"]) == ("S256", "offline")
    redirect = fake.authorize(url)

    callback = _flow(fake, **kept)
    token = callback.fetch_token(authorization_response=redirect)

    assert token["token_type"] == "Bearer" and token["refresh_token"].startswith("1//")
    assert sorted(token["scope"]) == sorted(SCOPES)
    claims = id_token.verify_token(token["id_token"], Request(_session(fake)), audience=fake.client_id,
                                   certs_url=fake.certs_url)
    assert (claims["iss"], claims["azp"], claims["email"], claims["email_verified"], claims["nonce"]) == (
        ISSUER, fake.client_id, DEFAULT_USER, True, "n-0S6_WzA2Mj")
    assert claims["sub"] == fake.users[DEFAULT_USER]["id"]
    assert id_token.verify_token(token["id_token"], Request(_session(fake)), audience=fake.client_id,
                                 certs_url=fake.jwks_uri)["sub"] == claims["sub"]
    credentials = callback.credentials
    assert (credentials.token_uri, credentials.refresh_token) == (fake.token_uri, token["refresh_token"])
    assert _gmail(fake, "GET", "/profile", credentials.token).json()["emailAddress"] == DEFAULT_USER


def test_the_callback_needs_the_verifier_and_state_kept_from_the_first_request(fake):
    first = _flow(fake)
    url, state = first.authorization_url(prompt="consent")

    with pytest.raises(oauth_errors.InvalidGrantError, match="Missing code verifier"):
        _flow(fake, state=state).fetch_token(authorization_response=fake.authorize(url))
    with pytest.raises(oauth_errors.MismatchingStateError):
        _flow(fake, state="another", code_verifier=first.code_verifier).fetch_token(
            authorization_response=fake.authorize(url))
    redirect = fake.authorize(url)
    with pytest.raises(oauth_errors.InvalidGrantError, match="Invalid code verifier"):
        _flow(fake, state=state, code_verifier="x" * 64).fetch_token(authorization_response=redirect)
    with pytest.raises(oauth_errors.InvalidGrantError):  # the code was spent by the failed attempt
        _flow(fake, state=state, code_verifier=first.code_verifier).fetch_token(authorization_response=redirect)


def test_basic_and_body_client_authentication_are_both_accepted_and_checked(fake):
    flow = _flow(fake)
    url, _state = flow.authorization_url()
    form = {"grant_type": "authorization_code", "code": _query(fake.authorize(url))["code"], "redirect_uri": REDIRECT,
            "code_verifier": flow.code_verifier}

    wrong = _session(fake).post(fake.token_uri, data={**form, "client_id": fake.client_id, "client_secret": "no"},
                                timeout=10)
    basic = _session(fake).post(fake.token_uri, data=form, auth=(fake.client_id, fake.client_secret), timeout=10)

    assert (wrong.status_code, wrong.json()) == (401, {"error": "invalid_client", "error_description": "Unauthorized"})
    assert basic.status_code == 200 and "refresh_token" in basic.json()
    flow = _flow(fake, autogenerate_code_verifier=False)
    url, _state = flow.authorization_url()  # no PKCE this time
    assert "code_challenge" not in _query(url)
    token = flow.fetch_token(code=_query(fake.authorize(url))["code"], include_client_id=True)
    assert "access_token" in token and "refresh_token" not in token  # offline consent was already given


def test_google_names_email_and_profile_by_url_which_oauthlib_calls_a_scope_change(fake, monkeypatch):
    flow = _flow(fake, scopes=["openid", "email", GMAIL_COMPOSE])
    url, _state = flow.authorization_url()

    with pytest.raises(Warning, match="Scope has changed"):
        flow.fetch_token(code=_query(fake.authorize(url))["code"])

    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    flow = _flow(fake, scopes=SCOPES)
    url, _state = flow.authorization_url(prompt="consent")
    token = flow.fetch_token(code=_query(fake.authorize(url, decline=(GMAIL_READONLY,)))["code"])
    assert GMAIL_READONLY not in token["scope"] and GMAIL_COMPOSE in token["scope"]
    assert set(flow.credentials.granted_scopes) == {"openid", USERINFO_EMAIL, GMAIL_COMPOSE}


def test_a_refresh_token_comes_only_with_the_first_offline_consent_or_prompt_consent(fake):
    def exchange(**kwargs) -> dict:
        flow = _flow(fake)
        url, _state = flow.authorization_url(**kwargs)
        return flow.fetch_token(code=_query(fake.authorize(url))["code"])

    assert "refresh_token" in exchange()
    assert "refresh_token" not in exchange()
    assert "refresh_token" not in exchange(access_type="online", prompt="consent")
    assert "refresh_token" in exchange(prompt="consent")


def test_denied_consent_comes_back_as_an_error(fake):
    flow = _flow(fake)
    url, state = flow.authorization_url()

    redirect = fake.deny(url)

    assert _query(redirect) == {"error": "access_denied", "state": state}
    with pytest.raises(oauth_errors.AccessDeniedError):
        _flow(fake, state=state, code_verifier=flow.code_verifier).fetch_token(authorization_response=redirect)


def test_bad_id_tokens_are_the_apps_to_catch(fake):
    request = Request(_session(fake))
    fake.sign_with_other_key = True
    token = _issue_through_flow(fake)
    with pytest.raises(ValueError, match="Could not verify token signature"):
        id_token.verify_token(token["id_token"], request, audience=fake.client_id, certs_url=fake.certs_url)

    fake.sign_with_other_key, fake.id_token_overrides = False, {"aud": "someone-else"}
    with pytest.raises(ValueError, match="wrong audience"):
        id_token.verify_token(_issue_through_flow(fake)["id_token"], request, audience=fake.client_id,
                              certs_url=fake.certs_url)

    fake.id_token_overrides = {"iss": "https://evil.example", "nonce": None}
    claims = id_token.verify_token(_issue_through_flow(fake, nonce="n-1")["id_token"], request,
                                   audience=fake.client_id, certs_url=fake.certs_url)
    assert claims["iss"] == "https://evil.example" and "nonce" not in claims  # verify_token checks neither


def test_expired_access_tokens_are_refreshed_and_the_refresh_token_stays(fake):
    token = _issue_through_flow(fake)
    credentials = _credentials(fake, token)
    fake.expire_access_tokens()
    assert _gmail(fake, "GET", "/profile", token["access_token"]).status_code == 401

    credentials.refresh(Request(_session(fake)))

    assert credentials.token != token["access_token"] and credentials.refresh_token == token["refresh_token"]
    assert credentials.id_token and credentials.valid
    assert _gmail(fake, "GET", "/profile", credentials.token).status_code == 200
    fake.expire_access_tokens()
    session = AuthorizedSession(credentials, auth_request=Request(_session(fake)))
    session.verify, session.trust_env = fake.ca_file, False
    profile = session.get(f"{fake.gmail}/users/me/profile", timeout=10)  # a 401, a refresh, the retry
    assert profile.status_code == 200 and profile.json()["emailAddress"] == DEFAULT_USER
    assert [path for _method, path in fake.requests[-3:]] == ["/gmail/v1/users/me/profile", "/token",
                                                              "/gmail/v1/users/me/profile"]


def test_credentials_json_round_trip_loses_the_token_uri(fake):
    credentials = _credentials(fake, _issue_through_flow(fake))
    credentials.refresh(Request(_session(fake)))
    info = json.loads(credentials.to_json())

    restored = Credentials.from_authorized_user_info(info)

    assert restored.token_uri == "https://oauth2.googleapis.com/token"  # always Google's, whatever was saved
    assert restored.with_token_uri(fake.token_uri).expiry is None  # and the copy forgets the expiry
    rebuilt = Credentials(info["token"], refresh_token=info["refresh_token"], token_uri=fake.token_uri,
                          client_id=info["client_id"], client_secret=info["client_secret"], scopes=info["scopes"],
                          expiry=restored.expiry)
    assert rebuilt.valid and rebuilt.expiry == credentials.expiry.replace(microsecond=0)
    fake.expire_access_tokens()
    rebuilt.refresh(Request(_session(fake)))
    assert _gmail(fake, "GET", "/profile", rebuilt.token).status_code == 200


def test_revoking_a_token_ends_the_grant(fake):
    token = _issue_through_flow(fake)
    credentials = _credentials(fake, token)

    revoked = _session(fake).post(fake.revoke_uri, params={"token": token["refresh_token"]}, timeout=10)

    assert revoked.status_code == 200 and fake.revoked == [token["refresh_token"]]
    assert _gmail(fake, "GET", "/profile", token["access_token"]).status_code == 401
    with pytest.raises(google_exceptions.RefreshError, match="invalid_grant: Token has been expired or revoked"):
        credentials.refresh(Request(_session(fake)))
    again = _session(fake).post(fake.revoke_uri, params={"token": token["refresh_token"]}, timeout=10)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_token")


def test_revoked_refresh_tokens_cannot_refresh(fake):
    credentials = _credentials(fake, _issue_through_flow(fake))
    fake.revoke_refresh_tokens()

    with pytest.raises(google_exceptions.RefreshError) as raised:
        credentials.refresh(Request(_session(fake)))

    assert raised.value.args[1]["error"] == "invalid_grant" and raised.value.retryable is False


def test_gmail_needs_a_valid_token_and_the_right_scope(fake):
    response = _gmail(fake, "GET", "/profile", "made-up")
    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"
    assert response.json()["error"]["message"] == "Request had invalid authentication credentials."

    send_only = fake.issue_tokens(scopes=(GMAIL_SEND,))["access_token"]
    refused = _gmail(fake, "POST", "/drafts", send_only,
                     json={"message": {"raw": base64.urlsafe_b64encode(_mime("<s@acme.example>")).decode()}})
    assert refused.status_code == 403 and refused.json()["error"]["status"] == "PERMISSION_DENIED"
    read_only = fake.issue_tokens(scopes=(GMAIL_READONLY,))["access_token"]
    assert _gmail(fake, "POST", "/drafts/send", read_only, json={"id": "r-1"}).status_code == 403
    assert _gmail(fake, "GET", "/messages", read_only).status_code == 200
    assert fake.requests[0] == ("GET", "/gmail/v1/users/me/profile")


def test_draft_send_and_find_it_in_sent_mail(fake):
    token = fake.issue_tokens()["access_token"]
    draft = _draft(fake, token, "<r1.42@acme.example>")
    assert draft["id"].startswith("r-") and draft["message"]["labelIds"] == ["DRAFT"]
    assert _gmail(fake, "GET", f"/drafts/{draft['id']}", token).status_code == 200
    assert _search(fake, token, "rfc822msgid:<r1.42@acme.example> in:sent") == {"resultSizeEstimate": 0}

    sent = _gmail(fake, "POST", "/drafts/send", token, json={"id": draft["id"]})

    assert sent.status_code == 200 and sent.json()["labelIds"] == ["SENT"]
    assert _gmail(fake, "GET", f"/drafts/{draft['id']}", token).status_code == 404
    again = _gmail(fake, "POST", "/drafts/send", token, json={"id": draft["id"]})
    assert again.status_code == 404 and again.json()["error"]["status"] == "NOT_FOUND"
    found = _search(fake, token, "rfc822msgid:r1.42@acme.example in:sent")
    assert found["messages"] == [{"id": sent.json()["id"], "threadId": sent.json()["threadId"]}]
    raw = _gmail(fake, "GET", f"/messages/{sent.json()['id']}", token, params={"format": "raw"}).json()
    assert base64.urlsafe_b64decode(raw["raw"]) == _mime("<r1.42@acme.example>")
    assert fake.times_sent("<r1.42@acme.example>") == 1
    assert fake.sent[0]["message"]["To"] == "ap@globex.example" and fake.sent[0]["draft_id"] == draft["id"]


def test_new_inbox_mail_is_read_through_history(fake):
    token = fake.issue_tokens()["access_token"]
    start_id = _gmail(fake, "GET", "/profile", token).json()["historyId"]
    _draft(fake, token, "<r2.42@acme.example>")  # history too, but not in the inbox
    reply = _mime("<reply-1@globex.example>", to=DEFAULT_USER, subject="RE: INV-7001")
    message_id = fake.deliver(reply)

    history = _gmail(fake, "GET", "/history", token, params={"startHistoryId": start_id,
                                                              "historyTypes": "messageAdded", "labelId": "INBOX"})

    assert history.status_code == 200, history.text
    records = history.json()["history"]
    assert [added["message"]["id"] for record in records for added in record["messagesAdded"]] == [message_id]
    assert records[0]["messagesAdded"][0]["message"]["labelIds"] == ["INBOX", "UNREAD"]
    assert history.json()["historyId"] == _gmail(fake, "GET", "/profile", token).json()["historyId"]
    raw = _gmail(fake, "GET", f"/messages/{message_id}", token, params={"format": "raw"}).json()
    assert base64.urlsafe_b64decode(raw["raw"]) == reply and raw["labelIds"] == ["INBOX", "UNREAD"]
    since = _gmail(fake, "GET", "/history", token, params={"startHistoryId": history.json()["historyId"]})
    assert since.json() == {"historyId": history.json()["historyId"]}


def test_history_pages_and_grows_too_old(fake):
    token = fake.issue_tokens()["access_token"]
    start_id = str(fake.history_id)
    delivered = [fake.deliver(_mime(f"<m{n}@globex.example>", to=DEFAULT_USER)) for n in range(3)]
    fake.page_size = 2
    seen, params = [], {"startHistoryId": start_id, "historyTypes": "messageAdded", "labelId": "INBOX"}
    while True:
        page = _gmail(fake, "GET", "/history", token, params=params).json()
        seen += [added["message"]["id"] for record in page.get("history", []) for added in record["messagesAdded"]]
        if "nextPageToken" not in page:
            break
        params["pageToken"] = page["nextPageToken"]
    assert seen == delivered

    fake.expire_history()

    too_old = _gmail(fake, "GET", "/history", token, params={"startHistoryId": start_id})
    assert too_old.status_code == 404 and too_old.json()["error"]["errors"][0]["reason"] == "notFound"
    current = _gmail(fake, "GET", "/history", token, params={"startHistoryId": str(fake.history_id)})
    assert current.status_code == 200


def test_a_reply_joins_the_thread_of_the_mail_it_answers(fake):
    token = fake.issue_tokens()["access_token"]
    draft = _draft(fake, token, "<r3.42@acme.example>")
    sent = _gmail(fake, "POST", "/drafts/send", token, json={"id": draft["id"]}).json()

    reply_id = fake.deliver(_mime("<reply-3@globex.example>", to=DEFAULT_USER, In_Reply_To="<r3.42@acme.example>"))

    assert fake.messages[reply_id].thread_id == sent["threadId"]


def test_scripted_throttling_sends_nothing(fake):
    token = fake.issue_tokens()["access_token"]
    draft = _draft(fake, token, "<r4.42@acme.example>")
    fake.send_script = [("status", 429, "7"), None]

    throttled = _gmail(fake, "POST", "/drafts/send", token, json={"id": draft["id"]})
    retried = _gmail(fake, "POST", "/drafts/send", token, json={"id": draft["id"]})

    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "7"
    error = throttled.json()["error"]
    assert (error["status"], error["errors"][0]["reason"]) == ("RESOURCE_EXHAUSTED", "rateLimitExceeded")
    assert retried.status_code == 200
    assert fake.times_sent("<r4.42@acme.example>") == 1


def test_a_send_whose_answer_never_arrives_still_sent_the_mail(fake):
    token = fake.issue_tokens()["access_token"]
    draft = _draft(fake, token, "<r5.42@acme.example>")
    fake.send_script = [("drop_after_send",)]

    with pytest.raises(requests.ConnectionError):
        _gmail(fake, "POST", "/drafts/send", token, json={"id": draft["id"]})

    assert fake.times_sent("<r5.42@acme.example>") == 1
    assert _gmail(fake, "GET", f"/drafts/{draft['id']}", token).status_code == 404
    assert len(_search(fake, token, "rfc822msgid:<r5.42@acme.example> in:sent")["messages"]) == 1


def test_a_ca_bundle_in_the_environment_overrides_a_sessions_verify(fake, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", requests.certs.where())
    session = requests.Session()
    session.verify = fake.ca_file

    with pytest.raises(requests.exceptions.SSLError):
        session.get(fake.certs_url, timeout=10)
