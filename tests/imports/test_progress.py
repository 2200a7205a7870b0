"""An import step's progress and heartbeat, as the job writes them and the run's page reads them."""

import pytest

from plixo.imports.progress import Heartbeat, current_progress, is_beating, progress_figures, progress_reporter


def test_the_time_left_follows_the_rate_so_far():
    assert progress_figures(done=2_000, total=10_000, seconds=4.0) == {
        "done": 2_000, "total": 10_000, "rate": 500, "seconds_left": 16, "percent": 20,
    }


@pytest.mark.parametrize(("done", "total", "seconds"), [(0, 10_000, 0.0), (500, 10_000, 0.0), (10_000, 10_000, 3.0)])
def test_no_time_left_is_shown_before_there_is_a_rate_or_after_the_last_row(done, total, seconds):
    assert progress_figures(done, total, seconds)["seconds_left"] is None


def test_an_estimate_exceeded_shows_100_percent_and_an_unknown_total_0():
    assert (progress_figures(12_000, 10_000, 6.0)["percent"], progress_figures(300, 0, 1.0)["percent"]) == (100, 0)


def test_what_the_job_reports_is_what_the_page_reads():
    progress_reporter(7, "validating", total=10_000)(2_500)
    assert (current_progress(7)["done"], current_progress(7)["total"]) == (2_500, 10_000)


def test_a_run_beats_only_while_its_step_runs():
    with Heartbeat(8):
        beating = is_beating(8)
    assert (beating, is_beating(8)) == (True, False)
