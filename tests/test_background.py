"""Enqueueing by a job's dotted path: every path plixo/ names is a job, and plixo/ never imports jobs/."""

import ast
import importlib
import re
from pathlib import Path

from sqlalchemy import func, select

from plixo.background import SENDS, enqueue
from plixo.config import ROOT
from plixo.extensions import db
from plixo.insights.models import DailySnapshot
from plixo.tenancy import tenant_scope
from tests.conftest import run_jobs
from tests.factories import make_org

PLIXO = ROOT / "plixo"
JOB_PATH = re.compile(r"jobs(?:\.[A-Za-z_]\w*){2,}\Z")  # "jobs.worker" names a module to run, not a job


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in sorted(PLIXO.rglob("*.py"))]


def _job_paths() -> dict[str, str]:
    """Every string in plixo/ shaped like a job path, with the first file it appears in."""
    found: dict[str, str] = {}
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and JOB_PATH.match(node.value):
                found.setdefault(node.value, str(path.relative_to(ROOT)))
    return found


def _names_a_function(job_path: str) -> bool:
    module, _, name = job_path.rpartition(".")
    try:
        return callable(getattr(importlib.import_module(module), name, None))
    except ImportError:
        return False


def _imports_jobs(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "jobs":
            return True
        if isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "jobs" for alias in node.names):
            return True
    return False


def test_every_job_path_in_plixo_names_a_job_function():
    paths = _job_paths()
    assert paths and {path: where for path, where in paths.items() if not _names_a_function(path)} == {}


def test_nothing_in_plixo_imports_jobs():
    assert [str(path.relative_to(ROOT)) for path, tree in _modules() if _imports_jobs(tree)] == []


def test_a_job_enqueued_by_path_gets_its_queues_time_limit_and_retries(app):
    job = enqueue(SENDS, "jobs.outbox.send_due_messages")
    assert (job.func_name, job.timeout, job.retries_left, job.retry_intervals) == (
        "jobs.outbox.send_due_messages", 120, 3, [30, 120, 600],
    )


def test_the_worker_runs_a_job_enqueued_by_path(app):
    org_id = make_org().id
    enqueue("default", "jobs.snapshots.take_daily_snapshots")
    run_jobs()
    with tenant_scope(org_id):
        assert db.session.scalar(select(func.count()).select_from(DailySnapshot)) == 1
