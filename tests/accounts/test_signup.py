"""Sign-up: the form answers alike for every address; the link e-mailed to a new one creates the workspace,
a registered one's owner is told instead. Real SMTP sink, real job worker."""

import datetime as dt
import re

import pytest
from sqlalchemy import func, select, update

from plixo.accounts.models import Membership, Organization, SignupRequest, User
from plixo.accounts.signup import MAX_MAILS_PER_ADDRESS_PER_DAY
from plixo.extensions import db
from plixo.model import utcnow
from plixo.tenancy import unscoped
from tests.conftest import run_jobs
from tests.smtp_sink import start_sink

SIGNUP = {"workspace_name": "Globex", "name": "Hank Scorpio", "email": "hank@globex.io",
          "password": "correct horse battery", "time_zone": "Europe/Berlin", "base_currency": "EUR",
          "referral_code": "partner-42"}
LINK = re.compile(r"http://\S+/signup/finish/(\S+)")


@pytest.fixture
def mailed(app, monkeypatch):
    """The app's account mail relay pointed at a real SMTP sink; yields the list of what it received."""
    controller, sink = start_sink()
    monkeypatch.setitem(app.config, "SMTP_HOST", controller.hostname)
    monkeypatch.setitem(app.config, "SMTP_PORT", controller.port)
    yield sink.messages
    controller.stop()


def _count(model) -> int:
    with unscoped():
        return db.session.scalar(select(func.count()).select_from(model))


def _body(message) -> str:
    return message.get_payload(decode=True).decode()


def _link_path(message) -> str:
    return "/signup/finish/" + LINK.search(_body(message)).group(1)


def _without_tokens(page: str, email: str) -> str:
    """The page with the address it names and its per-session CSRF token blanked."""
    return re.sub(r'Token": "[^"]+"', "", page.replace(email, "X"))


def _sign_up(client, mailed, **changes) -> str:
    """Sign up and return the path of the link the e-mail carries."""
    assert client.post("/signup", data={**SIGNUP, **changes}).status_code == 303
    run_jobs()
    return _link_path(mailed[-1])


def test_the_form_creates_nothing_until_the_link_is_used(anon, mailed):
    response = anon.post("/signup", data=SIGNUP)
    assert response.status_code == 303 and response.headers["Location"].endswith("/signup/sent")
    page = anon.get("/signup/sent").get_data(as_text=True)
    assert "Check your inbox" in page and "hank@globex.io" in page
    assert _count(Organization) == 0 and _count(User) == 0


def test_the_link_creates_the_workspace_with_its_first_user_as_controller(anon, mailed):
    link = _sign_up(anon, mailed)
    assert mailed[-1]["To"] == "hank@globex.io" and "Globex" in _body(mailed[-1])
    response = anon.post(link)
    assert response.status_code == 303
    with unscoped():
        membership = db.session.scalars(select(Membership)).one()
        org = db.session.get(Organization, membership.org_id)
    assert (membership.role, org.name, org.time_zone, org.base_currency, org.referral_code) == (
        "controller", "Globex", "Europe/Berlin", "EUR", "PARTNER-42")
    assert b"Globex" in anon.get("/").data  # signed in on the home page


def test_the_account_signs_in_with_the_password_typed_at_sign_up(anon, mailed, app):
    anon.post(_sign_up(anon, mailed))
    fresh = app.test_client()
    assert fresh.post("/login", data={"email": SIGNUP["email"], "password": SIGNUP["password"]}).status_code == 302
    with unscoped():
        assert db.session.scalar(select(SignupRequest.password_hash)) is None  # the account keeps it now


def test_opening_the_link_shows_what_it_creates_and_creates_nothing(anon, mailed):
    link = _sign_up(anon, mailed)
    page = anon.get(link)
    assert page.status_code == 200 and b"Finish creating" in page.data and b"Europe/Berlin" in page.data
    assert anon.get(link).status_code == 200 and _count(Organization) == 0  # a mail scanner's visit uses nothing


def test_a_link_works_once(anon, mailed, app):
    link = _sign_up(anon, mailed)
    anon.post(link)
    again = app.test_client().post(link)
    assert again.status_code == 404 and b"not valid" in again.data and _count(Organization) == 1


def test_an_expired_link_creates_nothing(anon, mailed):
    link = _sign_up(anon, mailed)
    with unscoped():
        db.session.execute(update(SignupRequest).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    db.session.commit()
    assert anon.post(link).status_code == 404 and _count(Organization) == 0


def test_a_made_up_link_is_not_valid(anon):
    assert anon.get("/signup/finish/made-up").status_code == 404
    assert anon.post("/signup/finish/" + "x" * 5000).status_code == 404


def test_a_registered_address_gets_the_same_answer_and_its_owner_a_notice(anon, mailed, controller, app):
    known = anon.post("/signup", data={**SIGNUP, "email": controller.email})
    known_page = anon.get("/signup/sent").get_data(as_text=True)
    other = app.test_client()
    new = other.post("/signup", data=SIGNUP)
    new_page = other.get("/signup/sent").get_data(as_text=True)
    assert (known.status_code, known.headers["Location"]) == (new.status_code, new.headers["Location"])
    assert _without_tokens(known_page, controller.email) == _without_tokens(new_page, SIGNUP["email"])
    run_jobs()
    notice = next(m for m in mailed if m["To"] == controller.email)
    body = _body(notice)
    assert "already has a Plixo account" in body and "/login" in body and "/signup/finish/" not in body
    assert "Globex" not in body  # nothing the form's author typed reaches the owner
    assert _count(Organization) == 1 and _count(User) == 1  # only the controller's


def test_an_address_gets_a_limited_number_of_mails_a_day(anon, mailed, app):
    for _ in range(MAX_MAILS_PER_ADDRESS_PER_DAY + 2):
        app.test_client().post("/signup", data=SIGNUP)
    run_jobs()
    assert len(mailed) == MAX_MAILS_PER_ADDRESS_PER_DAY


def test_a_mail_that_could_not_leave_is_written_again_with_a_fresh_link(anon, mailed, app, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_HOST", "")  # no relay: the job fails and RQ keeps it for a retry
    anon.post("/signup", data=SIGNUP)
    run_jobs()
    with unscoped():
        request = db.session.scalars(select(SignupRequest)).one()
    assert (request.mailed_at, request.token_hash) == (None, None) and mailed == []


def test_two_workspaces_of_the_same_name_get_distinct_slugs(anon, mailed, app):
    anon.post(_sign_up(anon, mailed))
    other = app.test_client()
    other.post(_sign_up(other, mailed, email="other@globex.io"))
    with unscoped():
        assert sorted(db.session.scalars(select(Organization.slug))) == ["globex", "globex-2"]


def test_a_free_mail_address_is_refused_and_nothing_is_kept(anon):
    response = anon.post("/signup", data={**SIGNUP, "email": "hank@gmail.com"})
    assert response.status_code == 422 and b"personal mail provider" in response.data
    assert _count(SignupRequest) == 0


def test_field_errors_are_shown_on_their_fields(anon):
    response = anon.post("/signup", data={**SIGNUP, "password": "short", "time_zone": "Mars/Olympus"})
    assert b"at least 12 characters" in response.data and b"Not a valid choice" in response.data
    response = anon.post("/signup", data={**SIGNUP, "referral_code": "<script>", "base_currency": "XXX"})
    assert response.status_code == 422 and b"Letters, digits and dashes only" in response.data
    assert anon.post("/signup", data={"email": "a@globex.io"}).status_code == 422
    assert _count(SignupRequest) == 0


def test_names_lose_invisible_characters(anon, mailed):
    anon.post(_sign_up(anon, mailed, workspace_name="Glo\u202ebex\u200b", name="Hank\u2066 Scorpio"))
    with unscoped():
        assert db.session.scalar(select(Organization.name)) == "Globex"
        assert db.session.scalar(select(User.name)) == "Hank Scorpio"


def test_the_sent_page_without_a_sign_up_goes_back_to_the_form(anon):
    response = anon.get("/signup/sent")
    assert response.status_code == 302 and response.headers["Location"].endswith("/signup")


def test_the_development_sink_page_exists_only_on_a_local_server(anon, mailed, app, monkeypatch):
    anon.post("/signup", data=SIGNUP)
    assert anon.get("/dev/mail").status_code == 404


def test_the_development_sink_page_shows_only_the_address_just_used(anon, app, monkeypatch, tmp_path):
    import mailbox
    from email.message import EmailMessage

    box = mailbox.Maildir(str(tmp_path / "sink"), create=True)
    for to in ("hank@globex.io", "xhank@globex.io", "someone@else.io"):
        message = EmailMessage()
        message["To"], message["Subject"], message["Date"] = to, f"For {to}", "Mon, 07 Dec 2026 10:00:00 +0000"
        message.set_content("body")
        box.add(message)
    monkeypatch.setitem(app.config, "DEV_OUTBOX_DIR", str(tmp_path / "sink"))
    anon.post("/signup", data=SIGNUP)
    page = anon.get("/dev/mail").get_data(as_text=True)
    assert "For hank@globex.io" in page and "xhank" not in page and "someone@else.io" not in page
