"""Sign-in, sign-up and team forms (validated on the server; errors re-rendered on the field)."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import Email, InputRequired, Length, Optional, Regexp, ValidationError

from plixo.accounts.free_mail import is_free_mail
from plixo.accounts.service import MIN_PASSWORD_LENGTH
from plixo.money import ISO_CURRENCIES
from plixo.security import ROLES

TIME_ZONES = sorted(tz for tz in available_timezones() if "/" in tz and not tz.startswith(("Etc/", "SystemV/")))
TIME_ZONES.insert(0, "UTC")
ROLE_CHOICES = list(ROLES.items())


def _work_email(form, field) -> None:
    if field.data and is_free_mail(field.data):
        raise ValidationError(f"Use a work address: {field.data.rsplit('@', 1)[-1]} is a personal mail provider.")


def _email_field(label: str = "Work e-mail") -> EmailField:
    return EmailField(label, validators=[
        InputRequired(), Length(max=320), Email(message="Enter a valid e-mail address."), _work_email])


def _new_password() -> PasswordField:
    return PasswordField("Password", validators=[
        InputRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200,
                                message=f"Use at least {MIN_PASSWORD_LENGTH} characters.")])


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[InputRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=200)])


class SignupForm(FlaskForm):
    workspace_name = StringField("Company name", validators=[InputRequired(), Length(min=2, max=200)],
                                 description="As it appears in your ERP; shown in e-mails and the payer portal.")
    name = StringField("Your name", validators=[InputRequired(), Length(max=200)])
    email = _email_field()
    password = _new_password()
    time_zone = SelectField("Time zone", choices=TIME_ZONES, default="UTC",
                            description="Aging and quiet hours are computed in this zone.")
    base_currency = SelectField("Base currency", choices=sorted(ISO_CURRENCIES), default="USD")
    referral_code = StringField("Partner referral code", validators=[
        Optional(), Length(max=64), Regexp(r"^[A-Za-z0-9-]+$", message="Letters, digits and dashes only.")])


class InviteForm(FlaskForm):
    email = _email_field("E-mail")
    role = SelectField("Role", choices=ROLE_CHOICES, default="operator")


class AcceptInviteForm(FlaskForm):
    name = StringField("Your name", validators=[InputRequired(), Length(max=200)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=200)],
                             description=f"New to Plixo? Choose one of at least {MIN_PASSWORD_LENGTH} characters. "
                                         "Already have an account? Enter its password.")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
