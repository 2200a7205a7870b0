"""The app shell in a real browser: sign-in, role navigation, shortcuts overlay, HTMX forms and toasts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from plixo.extensions import db
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.browser


def _sign_in(page, user) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Home")).to_be_visible()
    page.wait_for_function("() => window.Plixo !== undefined")  # app.js (deferred) has wired the keys


def test_controller_signs_in_and_sees_admin_navigation(page, org, controller):
    _sign_in(page, controller)
    expect(page.get_by_role("link", name="Users & Roles")).to_be_visible()
    expect(page.get_by_role("link", name="Audit log")).to_be_visible()
    assert page.csp_violations == []


def test_operator_sees_only_the_areas_of_their_role(page, org):
    operator = make_user(org, "operator")
    db.session.commit()
    _sign_in(page, operator)
    expect(page.get_by_text("A/R Operator")).to_be_visible()
    expect(page.get_by_role("link", name="Users & Roles")).to_have_count(0)


def test_question_mark_toggles_the_shortcuts_overlay(page, org, controller):
    _sign_in(page, controller)
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()


def test_question_mark_typed_in_a_field_stays_in_the_field(page, org, controller):
    _sign_in(page, controller)
    page.goto("/admin/users")
    field = page.get_by_label("E-mail")
    field.click()
    page.keyboard.type("what?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()
    expect(field).to_have_value("what?")


def test_invite_by_htmx_shows_link_toast_and_pending_invite(page, org, controller):
    _sign_in(page, controller)
    page.goto("/admin/users")
    page.get_by_label("E-mail").fill("new.hire@acmetest.example")
    page.get_by_label("Role", exact=True).select_option("cfo")
    page.get_by_role("button", name="Create invite").click()
    expect(page.locator(".toast-success")).to_contain_text("Invite created for new.hire@acmetest.example")
    expect(page.locator("#invite-link")).to_have_value(re.compile(r"/invite/"))
    expect(page.locator("#team")).to_contain_text("Pending invites 1")
    assert page.csp_violations == []


def test_free_mail_invite_shows_the_error_on_the_field(page, org, controller):
    _sign_in(page, controller)
    page.goto("/admin/users")
    page.get_by_label("E-mail").fill("someone@gmail.com")
    page.get_by_role("button", name="Create invite").click()
    expect(page.locator(".field-error")).to_contain_text("gmail.com is a personal mail provider")
    expect(page.locator(".toast-error")).to_contain_text("Check the invite form")


def test_keyboard_only_sign_in_from_page_load(page, org, controller):
    page.goto("/login")
    # The e-mail field takes focus on load; typing before it has would drop the first keys.
    expect(page.get_by_label("E-mail")).to_be_focused()
    page.keyboard.type(controller.email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Home")).to_be_visible()
