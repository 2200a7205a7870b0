"""`flask kpis`: the headline figures for a day, ending in one JSON line."""

from __future__ import annotations

import datetime as dt
import json

import pytest


def _run(app, *args):
    return app.test_cli_runner().invoke(args=["kpis", *args])


def test_the_last_line_is_one_json_object_with_the_figures(app, ledger):
    org, _controller, _today = ledger
    result = _run(app, "--org", org.slug, "--json")
    line = json.loads(result.output.strip().splitlines()[-1])
    assert result.exit_code == 0
    assert (line["currency"], line["open_ar_minor"], line["cash_collected_minor"]) == ("USD", 221_000, 20_000)
    assert (line["dso_countback_days"], line["promise_kept_rate"]) == (78.0, 0.5)
    assert {"dso_standard_days", "bpdso_days", "add_days", "cei_percent"} <= set(line)
    assert line["not_converted"]["open_ar"] == {"GBP": 7_000}


def test_as_of_reads_a_past_day(app, ledger):
    org, _controller, today = ledger
    result = _run(app, "--org", org.slug, "--as-of", (today - dt.timedelta(days=30)).isoformat(), "--json")
    assert json.loads(result.output.strip().splitlines()[-1])["open_ar_minor"] == 130_000


@pytest.mark.parametrize(("args", "message"), [
    (["--org", "nobody"], "No workspace"),
    (["--as-of", "2026-13-01"], "YYYY-MM-DD"),
    (["--as-of", "2999-01-01"], "after today"),
])
def test_bad_arguments_say_what_is_wrong(app, ledger, args, message):
    org, _controller, _today = ledger
    full = args if args[0] == "--org" else ["--org", org.slug, *args]
    result = _run(app, *full)
    assert result.exit_code != 0 and message in result.output
