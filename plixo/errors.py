"""Friendly error pages; HTMX requests get a toast instead of a page swapped into a fragment."""

from __future__ import annotations

from flask import Flask, make_response, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from plixo.extensions import htmx
from plixo.htmx import toast

MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "Your role does not give access to this page. Ask your Controller if you need it."),
    404: ("Not found", "There is nothing here. It may have been removed, or the link is wrong."),
    405: ("Not allowed", "This address does not accept that kind of request."),
    413: ("File too large", "That upload is larger than this workspace accepts."),
    429: ("Too many attempts", "Please wait a minute before trying again."),
    500: ("Something went wrong", "The error has been logged. Please try again; nothing was half-saved."),
}


def _error_response(status: int, detail: str | None = None, headers: dict | None = None):
    title, message = MESSAGES.get(status, MESSAGES[500])
    message = detail or message
    if htmx:
        response = toast(make_response("", status), message, "error")
        response.headers["HX-Reswap"] = "none"
    else:
        response = make_response(render_template("errors/error.html", status=status, title=title, message=message),
                                 status)
    response.headers.update(headers or {})  # Retry-After on 429, Allow on 405
    return response


def register_error_pages(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError):
        return _error_response(400, "Your session expired or the form was stale. Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        passed_on = {k: v for k, v in error.get_headers() if k in ("Retry-After", "Allow")}
        return _error_response(error.code, headers=passed_on)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        from plixo.extensions import db

        app.logger.exception("unhandled error")
        db.session.rollback()
        return _error_response(500)
