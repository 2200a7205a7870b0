"""The fake Microsoft answers the real msal and requests the way Microsoft does, so tests built on it mean something."""

from __future__ import annotations

import hashlib
import time
from urllib.parse import parse_qsl, urlsplit

import jwt
import msal
import pytest
import requests

from tests.fake_microsoft import DEFAULT_USER, FakeMicrosoft, start

SCOPES = ["Mail.ReadWrite", "Mail.Send", "User.Read"]
REDIRECT = "https://plixo.example/connectors/microsoft/callback"


@pytest.fixture
def fake(monkeypatch):
    # requests lets these variables override a Session's verify, which is where msal puts its `verify=`
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    server = start()
    yield server
    server.stop()


def _app(fake: FakeMicrosoft) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(fake.client_id, client_credential=fake.client_secret,
                                              authority=fake.authority, instance_discovery=False, verify=fake.ca_file)


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def _sign_in(fake: FakeMicrosoft, app: msal.ConfidentialClientApplication) -> tuple[dict, dict]:
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT, response_mode="form_post")
    return flow, app.acquire_token_by_auth_code_flow(flow, _query(fake.authorize(flow["auth_uri"])))


def _graph(fake: FakeMicrosoft, method: str, path: str, token: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{fake.graph}{path}", headers={"Authorization": f"Bearer {token}"},
                            verify=fake.ca_file, timeout=10, **kwargs)


def _draft(fake: FakeMicrosoft, token: str, internet_message_id: str) -> str:
    message = {"subject": "Invoice INV-7001 is overdue", "body": {"contentType": "text", "content": "Please pay."},
               "toRecipients": [{"emailAddress": {"address": "ap@globex.example"}}],
               "internetMessageId": internet_message_id,
               "internetMessageHeaders": [{"name": "X-Plixo-Message", "value": "42"}]}
    response = _graph(fake, "POST", "/me/messages", token, json=message)
    assert response.status_code == 201, response.text
    assert response.json()["isDraft"] is True
    assert response.json()["internetMessageId"] == internet_message_id
    return response.json()["id"]


def _in_sent_items(fake: FakeMicrosoft, token: str, internet_message_id: str) -> list[dict]:
    response = _graph(fake, "GET", "/me/mailFolders/sentitems/messages", token,
                      params={"$filter": f"internetMessageId eq '{internet_message_id}'",
                              "$select": "id,internetMessageId"})
    assert response.status_code == 200, response.text
    return response.json()["value"]


def test_code_flow_with_pkce_gives_tokens_and_a_verifiable_id_token(fake):
    app = _app(fake)
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT, response_mode="form_post")
    redirect = _query(fake.authorize(flow["auth_uri"]))
    result = app.acquire_token_by_auth_code_flow(flow, redirect)

    assert "access_token" in result, result
    claims = result["id_token_claims"]
    # msal puts sha256(flow["nonce"]) on the wire, and that is what comes back in the ID token
    assert claims["nonce"] == hashlib.sha256(flow["nonce"].encode()).hexdigest()
    assert (claims["aud"], claims["tid"], claims["preferred_username"]) == (fake.client_id, fake.tenant_id,
                                                                             DEFAULT_USER)
    discovery = requests.get(f"{fake.authority}/v2.0/.well-known/openid-configuration", verify=fake.ca_file,
                             timeout=10).json()
    keys = jwt.PyJWKSet.from_dict(requests.get(discovery["jwks_uri"], verify=fake.ca_file, timeout=10).json())
    key = next(k for k in keys.keys if k.key_id == jwt.get_unverified_header(result["id_token"])["kid"])
    issuer = discovery["issuer"].replace("{tenantid}", claims["tid"])
    assert jwt.decode(result["id_token"], key, algorithms=["RS256"], audience=fake.client_id,
                      issuer=issuer)["oid"] == fake.users[DEFAULT_USER]["id"]
    assert app.get_accounts()[0]["username"] == DEFAULT_USER

    again = app.acquire_token_by_auth_code_flow(flow, redirect)
    assert again["error"] == "invalid_grant" and 54005 in again["error_codes"]


def test_a_ca_bundle_in_the_environment_overrides_msals_verify(fake, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", requests.certs.where())

    with pytest.raises(requests.exceptions.SSLError):
        _app(fake)


def test_code_is_one_time_and_bound_to_its_pkce_verifier(fake):
    flow = _app(fake).initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT, response_mode="form_post")
    code = _query(fake.authorize(flow["auth_uri"]))["code"]
    form = {"client_id": fake.client_id, "client_secret": fake.client_secret, "grant_type": "authorization_code",
            "code": code, "redirect_uri": REDIRECT, "code_verifier": "not-the-verifier-" * 3}
    token_endpoint = f"{fake.authority}/oauth2/v2.0/token"

    wrong = requests.post(token_endpoint, data=form, verify=fake.ca_file, timeout=10).json()
    reused = requests.post(token_endpoint, data=form | {"code_verifier": flow["code_verifier"]},
                           verify=fake.ca_file, timeout=10).json()

    assert wrong["error"] == "invalid_grant" and 50148 in wrong["error_codes"]
    assert reused["error"] == "invalid_grant" and 54005 in reused["error_codes"]


def test_denied_consent_comes_back_as_an_error(fake):
    app = _app(fake)
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT, response_mode="form_post")

    result = app.acquire_token_by_auth_code_flow(flow, _query(fake.deny(flow["auth_uri"])))

    assert result["error"] == "access_denied"


def test_bad_id_tokens_are_the_apps_to_catch(fake):
    fake.sign_with_other_key = True
    fake.id_token_overrides = {"aud": "someone-else"}
    _flow, result = _sign_in(fake, _app(fake))
    keys = requests.get(f"{fake.authority}/discovery/v2.0/keys", verify=fake.ca_file, timeout=10).json()

    assert result["id_token_claims"]["aud"] == "someone-else"  # msal >= 1.38 does not validate ID tokens
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(result["id_token"], jwt.PyJWKSet.from_dict(keys).keys[0], algorithms=["RS256"],
                   audience="someone-else")

    fake.sign_with_other_key, fake.id_token_overrides = False, {"nonce": "replayed"}
    with pytest.raises(RuntimeError, match="nonce"):  # the one check msal still makes
        _sign_in(fake, _app(fake))


def test_expired_access_token_is_refreshed_with_force_refresh_and_the_refresh_token_rotates(fake):
    app = _app(fake)
    _flow, first = _sign_in(fake, app)
    account = app.get_accounts()[0]
    old_refresh_token = next(app.token_cache.search(msal.TokenCache.CredentialType.REFRESH_TOKEN))["secret"]
    fake.expire_access_tokens()

    assert _graph(fake, "GET", "/me", first["access_token"]).status_code == 401
    cached = app.acquire_token_silent(SCOPES, account=account)
    assert cached["access_token"] == first["access_token"]  # msal only knows expires_in; it does not ask
    assert cached["token_source"] == "cache"

    refreshed = app.acquire_token_silent(SCOPES, account=account, force_refresh=True)

    assert refreshed["token_source"] == "identity_provider"
    me = _graph(fake, "GET", "/me", refreshed["access_token"])
    assert me.status_code == 200 and me.json()["mail"] == DEFAULT_USER
    new_refresh_token = next(app.token_cache.search(msal.TokenCache.CredentialType.REFRESH_TOKEN))["secret"]
    assert new_refresh_token != old_refresh_token
    stale = requests.post(f"{fake.authority}/oauth2/v2.0/token", verify=fake.ca_file, timeout=10,
                          data={"client_id": fake.client_id, "client_secret": fake.client_secret,
                                "grant_type": "refresh_token", "refresh_token": old_refresh_token})
    assert (stale.status_code, stale.json()["error"]) == (400, "invalid_grant")


def test_short_lived_access_tokens_are_refreshed_by_msal_on_its_own(fake):
    fake.access_token_lifetime = 120  # msal treats anything expiring within 5 minutes as expired
    app = _app(fake)
    _flow, first = _sign_in(fake, app)

    silent = app.acquire_token_silent(SCOPES, account=app.get_accounts()[0])

    assert silent["token_source"] == "identity_provider" and silent["access_token"] != first["access_token"]


def test_revoked_refresh_tokens_leave_the_app_signed_out(fake):
    app = _app(fake)
    _sign_in(fake, app)
    fake.revoke_refresh_tokens()

    result = app.acquire_token_silent_with_error(SCOPES, account=app.get_accounts()[0], force_refresh=True)

    assert result["error"] == "invalid_grant"
    assert app.acquire_token_silent(SCOPES, account=app.get_accounts()[0], force_refresh=True) is None


def test_graph_needs_a_valid_token(fake):
    response = requests.get(f"{fake.graph}/me", verify=fake.ca_file, timeout=10,
                            headers={"Authorization": "Bearer made-up"})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert fake.graph_calls == 1 and fake.requests == [("GET", "/v1.0/me")]


def test_draft_send_and_find_in_sent_items(fake):
    token = fake.issue_tokens()["access_token"]
    draft_id = _draft(fake, token, "<r1.42@acme.example>")

    sent = _graph(fake, "POST", f"/me/messages/{draft_id}/send", token)
    again = _graph(fake, "POST", f"/me/messages/{draft_id}/send", token)

    assert sent.status_code == 202 and "Retry-After" not in sent.headers
    assert again.status_code == 404 and again.json()["error"]["code"] == "ErrorItemNotFound"
    assert [m["internetMessageId"] for m in _in_sent_items(fake, token, "<r1.42@acme.example>")] == [
        "<r1.42@acme.example>"]
    assert fake.times_sent("<r1.42@acme.example>") == 1
    assert fake.sent[0]["toRecipients"][0]["emailAddress"]["address"] == "ap@globex.example"
    mime = _graph(fake, "GET", f"/me/messages/{fake.sent[0]['id']}/$value", token).content
    assert b"X-Plixo-Message: 42" in mime and b"Message-ID: <r1.42@acme.example>" in mime


def test_sent_items_lag_behind_a_send_by_its_retry_after(fake):
    token = fake.issue_tokens()["access_token"]
    fake.send_retry_after = "2"
    draft_id = _draft(fake, token, "<r2.42@acme.example>")

    sent = _graph(fake, "POST", f"/me/messages/{draft_id}/send", token)

    assert sent.headers["Retry-After"] == "2"
    assert _in_sent_items(fake, token, "<r2.42@acme.example>") == []
    later = time.time() + 3
    fake.clock = lambda: later
    assert len(_in_sent_items(fake, token, "<r2.42@acme.example>")) == 1


def test_scripted_throttling_sends_nothing(fake):
    token = fake.issue_tokens()["access_token"]
    draft_id = _draft(fake, token, "<r3.42@acme.example>")
    fake.send_script = [("status", 429, "7"), None]

    throttled = _graph(fake, "POST", f"/me/messages/{draft_id}/send", token)
    retried = _graph(fake, "POST", f"/me/messages/{draft_id}/send", token)

    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "7"
    assert retried.status_code == 202
    assert fake.times_sent("<r3.42@acme.example>") == 1


def test_a_send_whose_answer_never_arrives_still_sent_the_mail(fake):
    token = fake.issue_tokens()["access_token"]
    draft_id = _draft(fake, token, "<r4.42@acme.example>")
    fake.send_script = [("drop_after_send",)]

    with pytest.raises(requests.ConnectionError):
        _graph(fake, "POST", f"/me/messages/{draft_id}/send", token)

    assert fake.times_sent("<r4.42@acme.example>") == 1
    assert len(_in_sent_items(fake, token, "<r4.42@acme.example>")) == 1


def test_sending_needs_mail_send(fake):
    token = fake.issue_tokens(scopes=("Mail.ReadWrite",))["access_token"]
    draft_id = _draft(fake, token, "<r5.42@acme.example>")

    response = _graph(fake, "POST", f"/me/messages/{draft_id}/send", token)

    assert response.status_code == 403 and response.json()["error"]["code"] == "ErrorAccessDenied"


def _mime(number: int) -> bytes:
    return (f"From: Globex AP <ap@globex.example>\r\nTo: ar@acme.example\r\nSubject: Re: INV-{number}\r\n"
            f"Message-ID: <reply{number}@globex.example>\r\n\r\nPaid.\r\n").encode()


def _delta(fake: FakeMicrosoft, token: str, url: str) -> list[dict]:
    """Every page from url on; returns the pages' bodies."""
    pages = []
    while url:
        response = requests.get(url, headers={"Authorization": f"Bearer {token}"}, verify=fake.ca_file, timeout=10)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        url = pages[-1].get("@odata.nextLink")
    return pages


def test_inbox_delta_pages_then_only_new_messages(fake):
    token = fake.issue_tokens()["access_token"]
    for number in range(3):
        fake.deliver(_mime(number))
    fake.page_size = 2
    start_url = f"{fake.graph}/me/mailFolders/inbox/messages/delta?$select=id,receivedDateTime,internetMessageId"

    pages = _delta(fake, token, start_url)

    assert [len(page["value"]) for page in pages] == [2, 1]
    assert "@odata.deltaLink" in pages[-1] and "@odata.deltaLink" not in pages[0]
    assert set(pages[0]["value"][0]) >= {"id", "receivedDateTime", "internetMessageId"}

    latest = _delta(fake, token, f"{fake.graph}/me/mailFolders/inbox/messages/delta?$deltatoken=latest")
    assert latest[-1]["value"] == []
    new_id = fake.deliver(_mime(9))
    since = _delta(fake, token, latest[-1]["@odata.deltaLink"])

    assert [item["internetMessageId"] for item in since[-1]["value"]] == ["<reply9@globex.example>"]
    mime = _graph(fake, "GET", f"/me/messages/{new_id}/$value", token)
    assert mime.content == _mime(9)
