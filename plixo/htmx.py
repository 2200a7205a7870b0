"""The few HTMX helpers flask-htmx lacks (request detection itself is flask-htmx's `htmx`), and request timing."""

from __future__ import annotations

import json
import time

from flask import Response, g, render_template
from jinja2_fragments.flask import render_block

from plixo.extensions import htmx


def hx_trigger(response: Response, event: str, **detail) -> Response:
    """Add a namespaced client event (`area:verb`) to the response's HX-Trigger header."""
    if ":" not in event:
        raise ValueError("client events are namespaced as area:verb")
    existing = response.headers.get("HX-Trigger")
    events = json.loads(existing) if existing else {}
    events[event] = detail or True
    response.headers["HX-Trigger"] = json.dumps(events)
    return response


def toast(response: Response, message: str, level: str = "success") -> Response:
    """Show a toast in the app shell after this response is swapped in."""
    return hx_trigger(response, "shell:toast", message=message, level=level)


def render_page_or_block(template: str, block: str, **context) -> str:
    """The whole page for a normal request, just `block` for an HTMX request targeting it.

    A block is named after the DOM id it fills, with dashes as underscores (#audit-results ↔ audit_results).
    """
    if htmx and (htmx.target or "").replace("-", "_") == block:
        return render_block(template, block, **context)
    return render_template(template, **context)


def add_vary(response: Response) -> Response:
    # The same URL answers a page or one of its fragments, so caches must key on both headers.
    response.vary.add("HX-Request")
    response.vary.add("HX-Target")
    return response


def start_timer() -> None:
    g.request_started = time.perf_counter()


def add_server_timing(response: Response) -> Response:
    # The server's own time for the request, readable in the browser's network panel and by bench/queue.py.
    started = g.get("request_started")
    if started is not None:
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response
