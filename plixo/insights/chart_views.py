"""The console's charts as the JSON blocks static/console.js draws: labels, datasets and, for each point, the page
with the rows behind it (a click drills down). The same figures are in a table under each chart."""

from __future__ import annotations

from flask import url_for

from plixo.ledger.aging import BUCKET_NAMES
from plixo.money import exponent

FORECAST_PARTS = (("promised_minor", "Promised"), ("planned_minor", "Plan installments"),
                  ("habit_minor", "Due, by paying habit"))
LINES = (("dso_countback_days", "Countback DSO"), ("bpdso_days", "Best-possible DSO"), ("add_days", "ADD"))


def _major(minor: int | None, currency: str) -> float | None:
    """A chart's axis in whole currency units: only for drawing, never for a figure anyone reads as exact."""
    return None if minor is None else minor / 10 ** exponent(currency)


def _month_links(trend: dict, kind: str, **args) -> list[str]:
    """Per month: the rows behind it, past month-ends read from the balance history, this month as of today."""
    return [url_for("overview.behind_figure", kind=kind, on=day, **args) for day in trend["month_ends"]]


def charts(data: dict) -> dict:
    currency, trend = data["figures"]["currency"], data["trend"]
    promises, forecast = data["figures"]["promises"], data["forecast"]
    return {
        "dso": {"type": "line", "unit": "days", "labels": trend["labels"],
                "datasets": [{"label": label, "data": trend[name], "links": _month_links(trend, "open")}
                             for name, label in LINES]},
        "cash": {"type": "bar", "unit": currency, "labels": trend["labels"],
                 "datasets": [{"label": "Cash collected", "data": [_major(v, currency) for v in trend["cash_minor"]],
                               "links": _month_links(trend, "cash")}]},
        "aging": {"type": "bar", "unit": currency, "stacked": True, "labels": trend["labels"],
                  "datasets": [{"label": name, "data": [_major(v, currency) for v in trend["aging"][name]],
                                "links": _month_links(trend, "open", which=name)}
                               for name in BUCKET_NAMES]},
        "promises": {"type": "doughnut", "unit": "promises", "labels": ["Kept", "Broken"],
                     "datasets": [{"label": "Promises due in the last 90 days",
                                   "data": [promises["kept"], promises["broken"]],
                                   "links": [url_for("overview.behind_figure", kind="promises", which="kept"),
                                             url_for("overview.behind_figure", kind="promises", which="broken")]}]},
        "exposure": {"type": "bar", "unit": currency, "horizontal": True,
                     "labels": [entry["name"] for entry in data["figures"]["exposure"]["top"]],
                     "datasets": [{"label": "Open A/R", "data": [_major(e["minor"], currency)
                                                                 for e in data["figures"]["exposure"]["top"]],
                                   "links": [url_for("customers.show", customer_id=e["id"])
                                             for e in data["figures"]["exposure"]["top"]]}]},
        "forecast": {"type": "bar", "unit": currency, "stacked": True,
                     "labels": [week["start"] for week in forecast["weeks"]],
                     "datasets": [{"label": label, "data": [_major(week[key], currency) for week in forecast["weeks"]],
                                   "links": [url_for("overview.behind_figure", kind="forecast", on=week["start"])
                                             for week in forecast["weeks"]]}
                                  for key, label in FORECAST_PARTS]},
    }
