"""How every view answers HTMX: one fragment convention, one change wrapper, namespaced client events.

Fragments are named `{% block %}`s of their page's template, each named after the DOM id of the element it
renders (`block inspector` ↔ `<aside id="inspector">`), so a first render and every swap use the same markup.
A GET answers with the whole page, or with the block its HTMX request targets (`render_page_or_block`); a
response that only ever swaps a fragment (an action's result, a refusal, a poll) renders that block
(`render_fragment`). A change runs through `change`: the service call, then one commit, or a rollback and the
refusal's own answer. Request detection itself is flask-htmx's `htmx`.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import TypeVar

from flask import Response, g, make_response, render_template
from flask.typing import ResponseReturnValue as ResponseValue
from jinja2_fragments.flask import render_block
from sqlalchemy.exc import OperationalError

from plixo.actions import ActionError
from plixo.extensions import db, htmx

T = TypeVar("T")
WRITE_ATTEMPTS = 8
WRITE_RETRY_PAUSE = 0.05  # seconds, growing with each attempt and jittered, so colliding writers spread out


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


def targeted_block(*blocks: str) -> str | None:
    """The one of `blocks` this HTMX request targets (its HX-Target id, dashes as underscores), if any."""
    target = (htmx.target or "").replace("-", "_") if htmx else ""
    return target if target in blocks else None


def render_page_or_block(template: str, *blocks: str, **context) -> str:
    """The whole page for a normal request; for an HTMX request targeting one of `blocks`, just that block."""
    block = targeted_block(*blocks)
    return render_block(template, block, **context) if block else render_template(template, **context)


def render_fragment(template: str, block: str, **context) -> str:
    """One named block of a page's template, for a response that only ever swaps that fragment."""
    return render_block(template, block, **context)


def retarget(response: Response, selector: str, swap: str = "outerHTML") -> Response:
    """Swap this response into `selector` instead of the element the request named."""
    response.headers["HX-Retarget"] = selector
    response.headers["HX-Reswap"] = swap
    return response


def change(call: Callable[[], T], done: Callable[[T], ResponseValue], refused: Callable[[Exception], ResponseValue],
           refusals: tuple[type[Exception], ...] = (ActionError,)) -> Response:
    """Make one change the way every view does: run the service call, then commit once and answer `done(result)`;
    when it is refused (an ActionError, or one of `refusals`), roll back, so nothing of it stays, and answer
    `refused(error)`.

    On SQLite, where one writer at a time holds the file, a change that meets another process's write (the job
    worker's, another tab's) is rolled back and run again a few times; if the file stays busy the person is told
    so, and nothing of the change stays."""
    for attempt in range(WRITE_ATTEMPTS):
        try:
            result = call()
            db.session.commit()
        except refusals as error:
            db.session.rollback()
            return make_response(refused(error))
        except OperationalError as error:
            db.session.rollback()
            if not _file_busy(error):
                raise
            time.sleep(WRITE_RETRY_PAUSE * (attempt + 1) * (0.5 + random.random()))
            continue
        return make_response(done(result))
    return make_response(refused(ActionError("Another change was being saved at the same moment, so nothing was "
                                             "changed. Please try again.")))


def _file_busy(error: OperationalError) -> bool:
    """SQLite's "database is locked" (another writer) or a snapshot that went stale before this write."""
    return db.session.get_bind().dialect.name == "sqlite" and any(
        phrase in str(error.orig).lower() for phrase in ("database is locked", "database is busy"))


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
