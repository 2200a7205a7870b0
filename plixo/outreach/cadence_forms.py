"""The Create cadence wizard's input: typed step fields, their checks, defaults, preview and schedule words.

The wizard is stateless: every request carries the whole form, so these functions take the submitted
text and give back either StepInputs for create_cadence or a CadenceError naming the field to mark.
The final word stays with create_cadence; the checks here only let the wizard stop at the right step.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from itertools import zip_longest

from sqlalchemy import and_, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from plixo.ledger.eligibility import eligible_clause
from plixo.ledger.models import Customer, Invoice
from plixo.ledger.payer_links import LinkMaker
from plixo.outreach.cadences import MAX_STEPS, CadenceError, StepInput
from plixo.outreach.drafting import drafted_email
from plixo.outreach.merge_fields import MERGE_FIELDS, Preview, fill, merge_values, preview
from plixo.outreach.models import Cadence, Segment
from plixo.outreach.segments import SegmentRules, segment_clause
from plixo.params import parse_id

MAX_OFFSET_DAYS = 365  # a year either side of the due date; also keeps the value inside an INTEGER column
FIRST_OFFSET_DAYS = 3
FOLLOW_UP_DAYS = 7
# Later steps get firmer: (template, tone) by position, the last entry repeating.
DEFAULT_TEMPLATES = (("reminder", "friendly"), ("reminder", "professional"), ("escalation", "firm"))
_STEP_NUMBER = re.compile(r"^Step (\d+)\b")
_BLANK_RUNS = re.compile(r"\n{3,}")
ANCHOR_LABELS = {"due_date": "the due date", "previous_touch": "the previous touch"}


@dataclass(frozen=True)
class StepFields:
    """One e-mail step as typed: kept verbatim so a refused form shows exactly what was entered."""

    offset: str = ""
    anchor: str = "due_date"
    subject: str = ""
    body: str = ""
    tone: str = ""

    def to_input(self, number: int) -> StepInput:
        try:
            offset = int(self.offset.strip())
        except ValueError:
            raise CadenceError(f"Step {number}: the day offset must be a whole number, such as 3.",
                               "steps") from None
        if abs(offset) > MAX_OFFSET_DAYS:
            raise CadenceError(f"Step {number}: keep the day offset within {MAX_OFFSET_DAYS} days.", "steps")
        return StepInput(offset, self.anchor, self.subject, self.body, self.tone or None)


def steps_from_form(form: MultiDict) -> list[StepFields]:
    """The wizard's step fields (parallel lists, one entry per step) as StepFields."""
    columns = [form.getlist(name) for name in ("step_offset", "step_anchor", "step_subject", "step_body",
                                                "step_tone")]
    # Browsers submit line breaks as CRLF; the stored text uses plain newlines like every other template.
    columns[3] = [body.replace("\r\n", "\n") for body in columns[3]]
    # One more than allowed still reaches check_steps, which explains the limit.
    return [StepFields(*values) for values in zip_longest(*columns, fillvalue="")][:MAX_STEPS + 1]


def parse_steps(fields: list[StepFields]) -> list[StepInput]:
    """StepInputs for create_cadence, or a CadenceError on the first step that cannot be read."""
    return [step.to_input(number) for number, step in enumerate(fields, start=1)]


def error_step(error: CadenceError | None) -> int | None:
    """The 1-based step a sequence error is about, so the wizard can mark that step's card."""
    found = _STEP_NUMBER.match(error.message) if error and error.field == "steps" else None
    return int(found.group(1)) if found else None


def workspace_segment(session: Session, org_id: int, raw_id: str) -> Segment | None:
    """The segment picked in the wizard, only if it belongs to this workspace."""
    segment_id = parse_id(raw_id)
    segment = session.get(Segment, segment_id) if segment_id else None
    return segment if segment is not None and segment.org_id == org_id else None


def check_identity(session: Session, org_id: int, name: str, raw_segment_id: str) -> Segment:
    """Step 1's checks (the same create_cadence makes at launch): a free name and a segment of this workspace."""
    name = " ".join(name.split())
    if not name or len(name) > 120:
        raise CadenceError("Name the cadence (at most 120 characters).", "name")
    if session.scalar(select(Cadence.id).where(Cadence.org_id == org_id, Cadence.name == name)) is not None:
        raise CadenceError(f"A cadence called “{name}” already exists.", "name")
    segment = workspace_segment(session, org_id, raw_segment_id)
    if segment is None:
        raise CadenceError("Choose the segment it runs on.", "segment_id")
    return segment


def sample_invoice(session: Session, org_id: int, segment: Segment | None, today: dt.date) -> Invoice | None:
    """The most overdue eligible invoice the segment selects now: what the preview fills steps with."""
    if segment is None:
        return None
    return session.scalar(
        select(Invoice)
        .join(Customer, and_(Customer.org_id == Invoice.org_id, Customer.id == Invoice.customer_id))
        .where(Invoice.org_id == org_id, Invoice.status == "open", eligible_clause(today),
               segment_clause(SegmentRules.from_json(segment.rules), today))
        .order_by(Invoice.due_date, Invoice.id).limit(1))


def default_step(position: int, values: dict[str, str]) -> StepFields:
    """A sensible new step at `position` (1-based), written from the drafting templates.

    `values` are a real invoice's merge values when there is one: lines whose links have no value yet
    are left out, as the inspector's drafts do, so the default step does not start out blocked.
    """
    template, tone = DEFAULT_TEMPLATES[min(position, len(DEFAULT_TEMPLATES)) - 1]
    subject, body = drafted_email(template, tone, values, turn=position - 1)
    body = _BLANK_RUNS.sub("\n\n", body)  # the dropped link lines leave runs of blank lines behind
    if position == 1:
        return StepFields(str(FIRST_OFFSET_DAYS), "due_date", subject, body)
    return StepFields(str(FOLLOW_UP_DAYS), "previous_touch", subject, body)


def step_preview(step: StepFields, invoice: Invoice | None, today: dt.date, sender_name: str,
                 links: LinkMaker | None = None) -> Preview:
    """The step as the payer of `invoice` would read it, and what would block sending it.

    With no invoice to fill it with, only the problems that do not depend on one (unknown fields) are shown.
    """
    if invoice is not None:
        return preview(step.subject, step.body, merge_values(invoice, today, sender_name, links))
    sample = dict.fromkeys(MERGE_FIELDS, "x")
    unknown = fill(step.subject, sample).problems + fill(step.body, sample).problems
    return Preview(step.subject, step.body, list(dict.fromkeys(unknown)))


def _days(n: int) -> str:
    return f"{n} day{'' if n == 1 else 's'}"


def schedule_in_words(step: StepInput) -> str:
    """When a step goes, as a person would say it: "3 days after the due date"."""
    if step.anchor == "previous_touch":
        return f"{_days(step.offset_days)} after the previous touch"
    if step.offset_days == 0:
        return "on the due date"
    side = "after" if step.offset_days > 0 else "before"
    return f"{_days(abs(step.offset_days))} {side} the due date"

