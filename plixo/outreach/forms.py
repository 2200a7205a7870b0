"""The workspace guardrails form (server-validated; errors shown on the field)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, TimeField, widgets
from wtforms.validators import InputRequired, NumberRange

from plixo.outreach.models import TONES
from plixo.params import PlainDecimalField, PlainIntegerField

WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
APPROVERS = [("controller", "Controller"), ("legal", "Legal")]


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _count(label: str, low: int, high: int, description: str = "") -> PlainIntegerField:
    return PlainIntegerField(label, description=description, validators=[
        InputRequired(message="Enter a whole number."),
        NumberRange(min=low, max=high, message=f"Use a number from {low:,} to {high:,}.")])


def _amount(label: str, description: str) -> PlainDecimalField:
    return PlainDecimalField(label, description=description, places=None, validators=[
        InputRequired(message="Enter an amount."),
        NumberRange(min=0, max=10**12, message="Use an amount of 0 or more.")])


class PolicyForm(FlaskForm):
    tone = SelectField("Tone", choices=[(t, t.capitalize()) for t in TONES])
    business_hours_start = TimeField("Business hours from", validators=[InputRequired(message="Enter a time.")])
    business_hours_end = TimeField("Business hours until", validators=[InputRequired(message="Enter a time.")])
    quiet_hours_start = TimeField("Quiet hours from", validators=[InputRequired(message="Enter a time.")],
                                  description="Nothing is sent in quiet hours, in the customer's own time zone.")
    quiet_hours_end = TimeField("Quiet hours until", validators=[InputRequired(message="Enter a time.")])
    sending_days = CheckboxesField("Sending days", coerce=int, choices=WEEKDAYS)
    daily_cap_per_mailbox = _count("Daily cap per mailbox", 1, 100_000)
    daily_cap_per_domain = _count("Daily cap per sending domain", 1, 1_000_000)
    max_touches_per_week = _count("Touches per customer per week", 1, 14)
    min_gap_hours = _count("Minimum gap between touches (hours)", 0, 336)
    discount_cap_percent = PlainDecimalField("Discount cap (% of the balance)", places=None, validators=[
        InputRequired(message="Enter a percentage."), NumberRange(min=0, max=100, message="Use 0 to 100 %%.")])
    credit_approval = _amount("Credits need approval above", "In the workspace currency.")
    plan_approval = _amount("Payment plans need approval above", "Total of the plan.")
    plan_approval_months = _count("…or longer than (months)", 1, 60)
    writeoff_approval = _amount("Write-offs go to Legal above",
                                "Every write-off needs approval; larger ones need Legal's.")
    approver_role = SelectField("Approvals go to", choices=APPROVERS)
