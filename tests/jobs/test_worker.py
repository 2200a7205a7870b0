"""Jobs on a real Redis with a real RQ worker: retries follow the queue policy, the durable row keeps the outcome."""

from rq import Retry
from sqlalchemy import select

from jobs.snapshots import take_daily_snapshots
from jobs.tracking import tracked
from plixo.accounts.models import Organization
from plixo.background import ALL_QUEUES, IMPORTS, enqueue
from plixo.extensions import db
from plixo.imports.models import ImportRun
from plixo.insights.models import DailySnapshot
from plixo.tenancy import current_org_id, tenant_scope
from tests.conftest import run_jobs
from tests.factories import make_invoice, make_org


@tracked(ImportRun)
def always_fails(run: ImportRun) -> None:
    raise RuntimeError(f"cannot read {run.filename}")


@tracked(ImportRun)
def records_its_scope(run: ImportRun) -> None:
    run.rows_total = current_org_id()
    run.status = "validated"


def _run(org, filename="receivables.csv") -> ImportRun:
    run = ImportRun(org_id=org.id, kind="invoices", filename=filename)
    db.session.add(run)
    db.session.commit()
    return run


def _work() -> None:
    run_jobs()


def _reload(run_id: int) -> ImportRun:
    db.session.expire_all()
    return db.session.get(ImportRun, run_id)


def test_a_failing_job_is_retried_per_policy_and_the_row_records_the_failure(app):
    run_id = _run(make_org()).id
    enqueue(IMPORTS, always_fails, run_id, retry=Retry(max=2))
    _work()
    run = _reload(run_id)
    assert (run.attempts, run.status, run.last_error) == (3, "failed", "RuntimeError: cannot read receivables.csv")


def test_a_job_runs_in_its_rows_workspace(app):
    org_id = make_org().id
    run_id = _run(db.session.get(Organization, org_id)).id
    enqueue(IMPORTS, records_its_scope, run_id)
    _work()
    run = _reload(run_id)
    assert (run.status, run.rows_total, run.attempts) == ("validated", org_id, 1)


def test_queues_have_retry_policies():
    from plixo.background import RETRY_POLICIES

    assert set(RETRY_POLICIES) == set(ALL_QUEUES) and all(p.max >= 1 for p in RETRY_POLICIES.values())


def test_daily_snapshot_job_records_each_workspace_once_per_day(app):
    org = make_org()
    make_invoice(org, balance_minor=5000, amount_minor=5000)
    db.session.commit()
    take_daily_snapshots()
    take_daily_snapshots()
    with tenant_scope(org.id):
        snapshots = db.session.scalars(select(DailySnapshot)).all()
    assert len(snapshots) == 1 and snapshots[0].metrics["aging"]["USD"]["1-30"] == 5000


def test_cron_config_registers_the_snapshot_job():
    from rq import cron

    import jobs.cron  # noqa: F401 - registering is what importing it does

    assert any(entry["func"] is take_daily_snapshots for entry in cron._job_data_registry)
