"""Admin → Exchange rates: the dated rates the CFO console converts other currencies into the base currency at,
added one at a time or from a CSV, deleted after a confirmation; every change audited."""

from __future__ import annotations

from flask import Blueprint, Response, flash, g, make_response, redirect, request, url_for
from flask_login import current_user

from plixo.actions import ActionError
from plixo.extensions import db, htmx
from plixo.htmx import change, hx_trigger, render_page_or_block, toast
from plixo.insights.models import ExchangeRate
from plixo.insights.rates import (
    CSV_COLUMNS,
    MAX_CSV_BYTES,
    MAX_CSV_ROWS,
    RatesFileError,
    RatesSaved,
    currencies_without_rate,
    delete_rate,
    import_rates,
    rate_book,
    rates_from_csv,
    save_rates,
    template_csv,
    typed_rate,
)
from plixo.ledger.aging import local_today
from plixo.money import ISO_CURRENCIES
from plixo.security import requires
from plixo.tenancy import get_or_404

bp = Blueprint("rates", __name__)
PAGE = "insights/exchange_rates.html"
SHOWN_PER_CURRENCY = 12  # a currency's latest rates; the rest behind "Show all"
TYPED_FIELDS = ("currency", "day", "rate")


def _context(typed: dict[str, str] | None = None, errors: dict[str, str] | None = None,
             file_error: RatesFileError | None = None) -> dict:
    org, today = g.org, local_today(g.org.time_zone)
    book = rate_book(db.session, org, today)
    show_all = request.values.get("show_all", "")
    return {"book": book, "needed": currencies_without_rate(db.session, org, today), "today": today,
            "typed": typed or {"currency": "", "day": today.isoformat(), "rate": ""}, "errors": errors or {},
            "file_error": file_error, "currencies": sorted(ISO_CURRENCIES - {org.base_currency}),
            "show_all": show_all if any(group.currency == show_all for group in book) else "",
            "shown": SHOWN_PER_CURRENCY, "not_in_use": sum(not line.in_use for group in book for line in group.lines),
            "columns": ",".join(CSV_COLUMNS), "max_kb": MAX_CSV_BYTES // 1024, "max_rows": MAX_CSV_ROWS}


def _answer(message: str, level: str = "success", status: int = 200, **context) -> Response:
    """The rates section after a change (HTMX), or the page; a change not made by HTMX redirects once it is done."""
    if not htmx:
        flash(message, level)
        if status < 400:
            return redirect(url_for("rates.exchange_rates"), 303)
    response = make_response(render_page_or_block(PAGE, "exchange_rates", **_context(**context)), status)
    if htmx:
        toast(response, message, level)
        if status < 400:
            hx_trigger(response, "rates:changed")
    return response


@bp.get("/admin/exchange-rates")
@requires("workspace.settings")
def exchange_rates():
    return render_page_or_block(PAGE, "exchange_rates", **_context())


@bp.post("/admin/exchange-rates")
@requires("workspace.settings")
def add_rate():
    typed = {name: request.form.get(name, "")[:100] for name in TYPED_FIELDS}
    org, today = g.org, local_today(g.org.time_zone)

    def save():
        currency, day, rate = typed_rate(typed["currency"], typed["day"], typed["rate"], org.base_currency, today)
        return (currency, day, rate), save_rates(db.session, org, current_user, [(currency, day, rate)])

    def saved(result):
        (currency, day, rate), outcome = result
        said = f"1 {currency} = {rate:f} {org.base_currency} from {day.isoformat()}"
        if outcome.unchanged:
            return _answer(f"That rate was already saved ({said}): nothing changed.", "info")
        verb = "Replaced the rate of that day" if outcome.replaced else "Rate saved"
        return _answer(f"{verb}: {said}.")

    def refused(error: ActionError):
        errors = getattr(error, "errors", None) or {error.field or "rate": error.message}
        return _answer("The rate was not saved: check the fields marked.", "error", 422, typed=typed, errors=errors)

    return change(save, saved, refused)


@bp.post("/admin/exchange-rates/upload")
@requires("workspace.settings")
def upload_rates():
    upload = request.files.get("file")
    chosen = upload is not None and bool(upload.filename)
    data = upload.read(MAX_CSV_BYTES + 1) if chosen else b""
    org, today = g.org, local_today(g.org.time_zone)

    def load() -> RatesSaved:
        if not chosen:
            raise RatesFileError([f"Choose a CSV file to upload (the header {','.join(CSV_COLUMNS)}, then one rate "
                                  "per line)."])
        return import_rates(db.session, org, current_user, rates_from_csv(data, org.base_currency, today))

    def imported(outcome: RatesSaved):
        total = outcome.changed + outcome.unchanged
        if not outcome.changed:
            return _answer(f"Nothing changed: the file's {total:,} rate{'s were' if total != 1 else ' was'} already "
                           "saved as given.", "info")
        parts = [f"{count:,} {what}" for count, what in ((outcome.added, "new"),
                                                         (outcome.replaced, "replacing the rate of the same day"),
                                                         (outcome.unchanged, "already saved")) if count]
        return _answer(f"Imported {total:,} rate{'s' if total != 1 else ''}: {', '.join(parts)}.")

    def refused(error: ActionError):
        file_error = error if isinstance(error, RatesFileError) else RatesFileError([error.message])
        return _answer(file_error.message, "error", 422, file_error=file_error)

    return change(load, imported, refused)


@bp.post("/admin/exchange-rates/<int:exchange_rate_id>/delete")
@requires("workspace.settings")
def delete_exchange_rate(exchange_rate_id: int):
    rate = get_or_404(db.session, ExchangeRate, exchange_rate_id)
    org = g.org
    said = f"the {rate.currency} rate of {rate.day.isoformat()} (1 {rate.currency} = {rate.rate} {rate.base_currency})"
    return change(lambda: delete_rate(db.session, org, current_user, rate),
                  lambda _done: _answer(f"Deleted {said}."),
                  lambda error: _answer(error.message, "error", 409))


@bp.get("/admin/exchange-rates/template.csv")
@requires("workspace.settings")
def rates_template():
    body = template_csv(db.session, g.org, local_today(g.org.time_zone))
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="exchange-rates-template.csv"'})

