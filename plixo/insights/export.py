"""Every console figure as CSV rows (figure, value, unit, formula), text that a spreadsheet never runs as a
formula, and the one-line JSON `flask kpis` prints."""

from __future__ import annotations

import csv
import io

from plixo.csv_safe import csv_safe
from plixo.insights.formulas_text import FORMULAS
from plixo.money import format_money


def kpi_line(figures: dict) -> dict:
    """The headline figures as one flat JSON object (amounts in base minor units, days, percent, a rate 0-1)."""
    promises = figures["promises"]
    return {"currency": figures["currency"], "as_of": figures["as_of"], "period_days": figures["period_days"],
            "open_ar_minor": figures["open_ar_minor"], "current_ar_minor": figures["current_ar_minor"],
            "dso_countback_days": _days(figures["dso_countback_days"]),
            "dso_countback_over_360": figures["dso_countback_over_360"],
            "dso_standard_days": _days(figures["dso_standard_days"]), "bpdso_days": _days(figures["bpdso_days"]),
            "add_days": _days(figures["add_days"]), "cei_percent": _days(figures["cei_percent"]),
            "promise_kept_rate": None if promises["kept_rate_count"] is None else round(promises["kept_rate_count"], 4),
            "promise_kept_rate_amount_percent": _days(promises["kept_rate_amount"]),
            "promises_at_risk_minor": promises["at_risk_minor"],
            "cash_collected_minor": figures["cash_collected_minor"],
            "cash_after_email_minor": figures["cash_after_email_minor"], "disputed_minor": figures["disputed_minor"],
            "aging_minor": figures["aging_minor"], "open_ar_by_currency": figures["open_ar_by_currency"],
            "not_converted": figures["not_converted"]}


def figures_csv(data: dict) -> str:
    """Headline figures, aging, the twelve-month trend and the forecast, one row each."""
    figures, currency = data["figures"], data["figures"]["currency"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "figure", "value", "unit", "formula"])
    for name, value in kpi_line(figures).items():
        if isinstance(value, dict):
            for key, inner in value.items():
                writer.writerow(_row("figures", f"{name} {key}", inner, currency, FORMULAS.get(name, "")))
        else:
            writer.writerow(_row("figures", name, value, currency, FORMULAS.get(name, "")))
    trend = data["trend"]
    for index, label in enumerate(trend["labels"]):
        for name in ("dso_countback_days", "bpdso_days", "add_days", "cei_percent"):
            writer.writerow(_row("trend", f"{label} {name}", trend[name][index], currency, trend["source"][index]))
        writer.writerow(_row("trend", f"{label} cash_collected_minor", trend["cash_minor"][index], currency, ""))
        for bucket, values in trend["aging"].items():
            writer.writerow(_row("trend", f"{label} aging {bucket}", values[index], currency, trend["source"][index]))
    for week in data["forecast"]["weeks"]:
        writer.writerow(_row("forecast", f"week of {week['start']}", week["total_minor"], currency,
                             data["forecast"]["method"]))
    writer.writerow(_row("forecast", "later", data["forecast"]["later_minor"], currency, ""))
    return out.getvalue()


def _row(section: str, name: str, value, currency: str, formula: str) -> list[str]:
    unit = ""
    if "_minor" in name:
        unit = f"{currency} minor units" + (f" ({format_money(value, currency)})" if isinstance(value, int) else "")
    elif name.endswith("_days"):
        unit = "days"
    elif name.endswith("_percent"):
        unit = "%"
    shown = "" if value is None else value
    return [csv_safe(cell) for cell in (section, name, shown, unit, formula)]


def _days(value):
    return None if value is None else round(value, 1)
