"""Sign-in, sessions, invitations and Admin → Users & Roles over HTTP."""

import json
import re
import time

from sqlalchemy import func, select

from plixo.accounts.models import Invite, Membership, User
from plixo.audit import AuditEvent
from plixo.extensions import db
from plixo.tenancy import unscoped
from tests.conftest import sign_in
from tests.factories import PASSWORD, across_workspaces, make_org, make_user, membership_of

HTMX = {"HX-Request": "true", "HX-Target": "team"}


def _count(model) -> int:
    with unscoped():
        return db.session.scalar(select(func.count()).select_from(model))


def test_login_with_the_right_password_opens_the_workspace(anon, controller):
    response = anon.post("/login", data={"email": controller.email.upper(), "password": PASSWORD})
    assert response.status_code == 302 and anon.get("/").status_code == 200


def test_login_renews_the_session(anon, controller):
    with anon.session_transaction() as session:
        session["planted"] = "by-attacker"
    anon.post("/login", data={"email": controller.email, "password": PASSWORD})
    with anon.session_transaction() as session:
        assert "planted" not in session


def test_login_with_a_wrong_password_says_so_and_stays_out(anon, controller):
    response = anon.post("/login", data={"email": controller.email, "password": "wrong password!"})
    assert response.status_code == 422 and b"do not match" in response.data
    assert anon.get("/").status_code == 302


def test_login_is_audited(anon, controller):
    anon.post("/login", data={"email": controller.email, "password": PASSWORD})
    assert across_workspaces(select(AuditEvent.action).where(AuditEvent.actor_id == controller.id)) == [
        "accounts.signed_in"]


def test_login_redirect_ignores_offsite_next(anon, controller):
    response = anon.post("/login?next=//evil.example/x", data={"email": controller.email, "password": PASSWORD})
    assert response.location == "/"


def test_repeated_failed_logins_are_rate_limited(app, anon, controller):
    statuses = [anon.post("/login", data={"email": controller.email, "password": "nope nope nope"}).status_code
                for _ in range(11)]
    assert statuses[-1] == 429 and 429 not in statuses[:10]


def test_idle_session_is_signed_out(app, client):
    with client.session_transaction() as session:
        session["last_seen"] = int(time.time()) - app.config["IDLE_TIMEOUT_MINUTES"] * 60 - 5
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.location


def test_logout_ends_the_session(client):
    client.post("/logout")
    assert client.get("/").status_code == 302


def test_unauthenticated_htmx_request_is_redirected_by_header(anon):
    response = anon.get("/admin/users", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/login")


def _invite(client, email="new.hire@acmetest.example", role="operator"):
    return client.post("/admin/users/invites", data={"email": email, "role": role}, headers=HTMX)


def test_invite_shows_a_one_time_link_and_toast(client):
    response = _invite(client)
    assert response.status_code == 200 and b"/invite/" in response.data
    assert json.loads(response.headers["HX-Trigger"])["shell:toast"]["level"] == "success"


def test_invite_refuses_free_mail_domains_and_saves_nothing(client):
    response = _invite(client, email="someone@outlook.com")
    assert response.status_code == 422 and b"outlook.com is a personal mail provider" in response.data
    assert _count(Invite) == 0


def test_invite_refuses_an_unknown_role(client):
    response = _invite(client, role="superuser")
    assert response.status_code == 422 and _count(Invite) == 0


def test_invite_refuses_an_existing_member(client, controller):
    response = _invite(client, email=controller.email)
    assert response.status_code == 422 and b"already a member" in response.data


def test_invite_is_audited(client):
    _invite(client)
    assert len(across_workspaces(select(AuditEvent.id).where(AuditEvent.action == "accounts.invite_sent"))) == 1


def _invite_token(client, email="new.hire@acmetest.example", role="operator") -> str:
    return re.search(rb"/invite/([\w-]+)", _invite(client, email, role).data).group(1).decode()


def test_accepting_an_invite_creates_the_member_with_the_role(client, anon):
    token = _invite_token(client, role="billing_admin")
    response = anon.post(f"/invite/{token}", data={"name": "Nia New", "password": "a long new password"})
    assert response.status_code == 302
    with unscoped():
        user = db.session.scalars(select(User).where(User.name == "Nia New")).one()
    assert membership_of(user).role == "billing_admin"


def test_an_invite_works_once(client, anon, app):
    token = _invite_token(client)
    anon.post(f"/invite/{token}", data={"name": "Nia New", "password": "a long new password"})
    assert app.test_client().get(f"/invite/{token}").status_code == 404


def test_an_unknown_invite_token_is_explained(anon):
    response = anon.get("/invite/not-a-real-token")
    assert response.status_code == 404 and b"not valid" in response.data


def test_accepting_with_a_short_password_rerenders_and_saves_nothing(client, anon):
    token = _invite_token(client)
    response = anon.post(f"/invite/{token}", data={"name": "Nia", "password": "short"})
    assert response.status_code == 422 and b"at least 12 characters" in response.data and _count(User) == 1


def test_existing_user_joins_a_second_workspace_with_their_password(client, anon):
    other = make_org()
    outsider = make_user(other, "operator", email="sam@acmetest.example")
    db.session.commit()
    token = _invite_token(client, email=outsider.email)
    anon.post(f"/invite/{token}", data={"name": "Sam", "password": PASSWORD})
    with unscoped():
        assert db.session.scalar(select(func.count()).select_from(Membership).where(
            Membership.user_id == outsider.id)) == 2


def test_revoked_invite_link_stops_working(client, anon):
    token = _invite_token(client)
    with unscoped():
        invite_id = db.session.scalar(select(Invite.id))
    client.post(f"/admin/users/invites/{invite_id}/revoke", headers=HTMX)
    assert anon.get(f"/invite/{token}").status_code == 404


def test_change_role(client, org):
    member = make_user(org, "operator")
    db.session.commit()
    membership = membership_of(member)
    response = client.post(f"/admin/users/members/{membership.id}/role", data={"role": "ar_manager"}, headers=HTMX)
    db.session.expire_all()
    assert response.status_code == 200 and membership_of(member).role == "ar_manager"


def test_change_role_refuses_an_unknown_role(client, org):
    member = make_user(org, "operator")
    db.session.commit()
    membership = membership_of(member)
    response = client.post(f"/admin/users/members/{membership.id}/role", data={"role": "god"}, headers=HTMX)
    db.session.expire_all()
    assert response.status_code == 422 and membership_of(member).role == "operator"


def test_the_last_controller_cannot_be_demoted(client, controller):
    membership = membership_of(controller)
    response = client.post(f"/admin/users/members/{membership.id}/role", data={"role": "cfo"}, headers=HTMX)
    db.session.expire_all()
    assert response.status_code == 409 and membership_of(controller).role == "controller"
    assert "at least one active Controller" in json.loads(response.headers["HX-Trigger"])["shell:toast"]["message"]


def test_deactivated_member_is_signed_out_on_their_next_request(app, client, org):
    member = make_user(org, "operator")
    db.session.commit()
    their_client = sign_in(app.test_client(), member)
    client.post(f"/admin/users/members/{membership_of(member).id}/deactivate", headers=HTMX)
    assert their_client.get("/").status_code == 302


def test_deactivated_member_cannot_sign_in(app, client, org):
    member = make_user(org, "operator")
    db.session.commit()
    client.post(f"/admin/users/members/{membership_of(member).id}/deactivate", headers=HTMX)
    response = app.test_client().post("/login", data={"email": member.email, "password": PASSWORD})
    assert response.status_code == 422


def test_a_controller_cannot_deactivate_themselves(client, controller):
    response = client.post(f"/admin/users/members/{membership_of(controller).id}/deactivate", headers=HTMX)
    db.session.expire_all()
    assert response.status_code == 409 and membership_of(controller).is_active


def test_reactivated_member_can_sign_in_again(app, client, org):
    member = make_user(org, "operator")
    db.session.commit()
    membership_id = membership_of(member).id
    client.post(f"/admin/users/members/{membership_id}/deactivate", headers=HTMX)
    client.post(f"/admin/users/members/{membership_id}/reactivate", headers=HTMX)
    response = app.test_client().post("/login", data={"email": member.email, "password": PASSWORD})
    assert response.status_code == 302


def test_login_with_empty_fields_rerenders_errors(anon):
    response = anon.post("/login", data={"email": "", "password": ""})
    assert response.status_code == 422 and response.data.count(b"This field is required") == 2


def _member_of_two_workspaces(org, controller):
    other = make_org(name="Second Co")
    with unscoped():
        db.session.add(Membership(org_id=other.id, user_id=controller.id, role="cfo"))
    db.session.commit()
    return other


def test_a_member_of_two_workspaces_can_switch(client, org, controller):
    other = _member_of_two_workspaces(org, controller)
    assert b"Second Co" in client.get("/").data  # the switcher lists it
    response = client.post("/workspace/switch", data={"org_id": other.id})
    assert response.status_code == 302 and b"CFO" in client.get("/").data


def test_switching_to_a_workspace_one_does_not_belong_to_is_refused(client, org):
    stranger = make_org(name="Not Yours")
    db.session.commit()
    assert client.post("/workspace/switch", data={"org_id": stranger.id}).status_code == 404
    assert client.post("/workspace/switch", data={"org_id": "abc"}).status_code == 404


def test_a_tampered_session_workspace_signs_the_user_out(client, org):
    stranger = make_org(name="Not Yours")
    db.session.commit()
    with client.session_transaction() as session:
        session["org_id"] = stranger.id
    assert client.get("/").status_code == 302


def test_switching_with_an_odd_workspace_id_is_refused(client):
    assert client.post("/workspace/switch", data={"org_id": "²"}).status_code == 404


def test_invite_page_does_not_reveal_an_existing_account(client, anon):
    other = make_org()
    make_user(other, "operator", email="victoria@acmetest.example", name="Victoria Secretname")
    db.session.commit()
    token = _invite_token(client, email="victoria@acmetest.example")
    assert b"Secretname" not in anon.get(f"/invite/{token}").data


def test_deactivation_in_one_workspace_keeps_the_session_in_another(app, client, org):
    other = make_org(name="Other Co")
    shared = make_user(other, "operator")
    with unscoped():
        db.session.add(Membership(org_id=org.id, user_id=shared.id, role="operator"))
    db.session.commit()
    their_client = sign_in(app.test_client(), shared)  # signed in to Other Co
    with unscoped():
        in_org = db.session.scalars(select(Membership).where(
            Membership.user_id == shared.id, Membership.org_id == org.id)).one()
    client.post(f"/admin/users/members/{in_org.id}/deactivate", headers=HTMX)
    assert their_client.get("/").status_code == 200


def test_reinviting_revokes_the_older_link_with_an_audit_event(client):
    _invite(client)
    _invite(client)
    actions = across_workspaces(select(AuditEvent.action).order_by(AuditEvent.id))
    assert actions.count("accounts.invite_revoked") == 1


def test_failed_sign_in_to_a_known_account_is_audited(anon, controller):
    anon.post("/login", data={"email": controller.email, "password": "not the password"})
    assert "accounts.sign_in_failed" in across_workspaces(select(AuditEvent.action))


def test_logout_and_switch_are_audited(client, org, controller):
    other = _member_of_two_workspaces(org, controller)
    client.post("/workspace/switch", data={"org_id": other.id})
    client.post("/logout")
    actions = set(across_workspaces(select(AuditEvent.action)))
    assert {"accounts.workspace_switched", "accounts.signed_out"} <= actions


def test_a_cookie_copied_before_logout_is_dead_after_it(app, client):
    copied = app.test_client()
    copied.set_cookie("plixo_session", client.get_cookie("plixo_session").value)
    client.post("/logout")
    assert copied.get("/").status_code == 302


def test_sessions_end_at_their_absolute_lifetime(client):
    from plixo.redis_conn import get_redis

    with client.session_transaction() as session:
        sid = session["sid"]
    get_redis().delete(f"plixo:session:{sid}")  # what the key's expiry does after SESSION_MAX_HOURS
    assert client.get("/").status_code == 302


def test_sign_in_stores_the_session_with_the_absolute_lifetime_as_expiry(app, anon, controller):
    from plixo.redis_conn import get_redis

    anon.post("/login", data={"email": controller.email, "password": PASSWORD})
    with anon.session_transaction() as session:
        ttl = get_redis().ttl(f"plixo:session:{session['sid']}")
    assert 0 < ttl <= app.config["PERMANENT_SESSION_LIFETIME"]



def test_a_joining_member_s_name_loses_invisible_characters(client, anon):
    token = _invite_token(client)
    anon.post(f"/invite/{token}", data={"name": "Nia\u202e\u200b New", "password": "a long new password"})
    with unscoped():
        assert db.session.scalar(select(User.name).where(User.email == "new.hire@acmetest.example")) == "Nia New"
