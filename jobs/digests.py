"""The weekly digest: every hour, each workspace's due digests go to the CFOs and controllers who asked for it."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from flask import current_app

from plixo.accounts.workspaces import for_each_workspace
from plixo.extensions import db
from plixo.insights.digest import send_digests


def send_weekly_digests(now: str | None = None) -> dict[str, int]:
    """Send what is due in every workspace, each in its own scope; `now` (an ISO instant with its offset) stops the
    clock, for tests and replays. A workspace that fails is retried with the job; its rows keep what was sent."""
    moment = dt.datetime.fromisoformat(now) if now else None
    if moment is not None and moment.tzinfo is None:
        raise ValueError("now must be an instant with its offset")
    results = for_each_workspace("weekly digest",
                                 lambda org: send_digests(db.session, org, current_app.config, moment))
    return dict(sum(results.values(), Counter()))
