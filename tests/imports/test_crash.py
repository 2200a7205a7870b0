"""A worker killed with SIGKILL in the middle of a commit leaves nothing half-written; the run says so and can
be retried. Uses a real worker process, parked by a failpoint inside the commit's transaction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from plixo.config import ROOT
from plixo.extensions import db
from plixo.imports.models import ImportRun
from plixo.ledger.models import Customer, Invoice
from plixo.tenancy import tenant_scope
from tests.conftest import run_jobs

CORPUS = Path(__file__).resolve().parent.parent / "data" / "imports"
FAILPOINT = "import_commit_before_transaction_end"
HTMX = {"HX-Request": "true", "HX-Target": "import-run"}


def _worker_process(app, database_url: str, redis_url: str, marks: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": app.secret_key,
           "UPLOAD_DIR": app.config["UPLOAD_DIR"], "PLIXO_INSTANCE_DIR": str(marks), "PLIXO_ENV": "testing",
           "PLIXO_FAILPOINTS": FAILPOINT, "PLIXO_FAILPOINT_MARKS": str(marks), "IMPORT_HEARTBEAT_SECONDS": "2"}
    return subprocess.Popen([sys.executable, "-m", "jobs.worker", "--burst", "--queues", "imports"], env=env,
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_for(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _counts(org_id: int) -> tuple[int, int]:
    with tenant_scope(org_id):
        return (db.session.scalar(select(func.count()).select_from(Invoice)),
                db.session.scalar(select(func.count()).select_from(Customer)))


def test_a_killed_worker_commits_nothing_and_the_run_can_be_retried(app, client, org, tmp_path, database_url,
                                                                       redis_url):
    org_id = org.id
    with open(CORPUS / "invoices_utf8.csv", "rb") as stream:
        client.post("/admin/imports/", data={"kind": "invoices", "file": (stream, "invoices.csv")},
                    content_type="multipart/form-data")
    with tenant_scope(org_id):
        run_id = db.session.scalar(select(ImportRun.id))
    client.post(f"/admin/imports/{run_id}/validate", headers=HTMX)
    run_jobs()
    client.post(f"/admin/imports/{run_id}/commit", headers=HTMX)

    worker = _worker_process(app, database_url, redis_url, tmp_path)
    try:
        _wait_for(lambda: (tmp_path / FAILPOINT).exists())  # parked after the merge, before its commit
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert _counts(org_id) == (0, 0)

    time.sleep(2.5)  # its heartbeat (2 s) expires
    page = client.get(f"/admin/imports/{run_id}").data
    with tenant_scope(org_id):
        run = db.session.get(ImportRun, run_id)
        assert (run.status, "worker stopped" in run.last_error) == ("failed", True)
    assert b"Retry the import" in page

    client.post(f"/admin/imports/{run_id}/commit", headers=HTMX)
    run_jobs()
    with tenant_scope(org_id):
        assert db.session.get(ImportRun, run_id).status == "committed"
    assert _counts(org_id) == (1000, 120)
