"""What every rule that a person, a payer or a provider sets off has in common: who acts, from where, and how a
refusal reads.

A rule checks its input before it changes anything. Input it refuses raises ActionError with the message to show
(and the form field it concerns), and nothing has been changed when it does: views re-render the fragment with the
error (plixo.htmx.change), the portal its page, reply intake notes it on the reply.
"""

from __future__ import annotations

from typing import Protocol

# Where a promise, plan, dispute or approval was recorded (their `source` column).
SOURCES = ("operator", "portal", "email")


class Teammate(Protocol):
    """A signed-in member of the workspace (plixo.accounts.models.User)."""

    id: int
    name: str


# Who acts: a teammate, or a label for someone who is not one, such as "Payer portal (ap@globex.example)".
Actor = Teammate | str


class ActionError(ValueError):
    """Input a rule refuses, with the message to show and the field it concerns."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field


def user_id(actor: Actor) -> int | None:
    """The acting teammate's id, or None for a payer, a provider or the system."""
    return None if isinstance(actor, str) else actor.id


def checked_source(source: str) -> str:
    """`source` if it is one of SOURCES; anything else is a programming error, not bad input."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    return source
