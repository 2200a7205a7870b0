"""`make run`: the whole app on one machine with embedded defaults.

Applies migrations, seeds the demo workspace into an empty database, starts an embedded Redis when
REDIS_URL is unset, then runs the web server, an RQ worker (with scheduler) and RQ's cron scheduler.
Ctrl-C stops everything it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from plixo.config import INSTANCE_DIR, ROOT


def _prepare_database() -> list[tuple[str, str]]:
    """Migrate, seed the demo workspace if the database has no workspace, and list the demo logins."""
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from plixo import create_app
    from plixo.accounts.models import Membership, Organization, User
    from plixo.demo.seed import seed_demo
    from plixo.demo.workspace import DEMO_ORG_NAME
    from plixo.extensions import db
    from plixo.tenancy import unscoped

    app = create_app()
    with app.app_context(), unscoped():
        upgrade()
        if not db.session.scalar(select(func.count()).select_from(Organization)):
            print("Seeding the demo workspace...", flush=True)
            seed_demo(db.session)
            db.session.commit()
        return db.session.execute(
            select(Membership.role, User.email).join(User).join(Organization, Organization.id == Membership.org_id)
            .where(Organization.name == DEMO_ORG_NAME).order_by(Membership.id)
        ).all()


def _spawn(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    print(f"  starting {name}: {' '.join(args)}", flush=True)
    # Own process group, so Ctrl-C reaches only us and we stop children in order.
    return subprocess.Popen(args, env=env, cwd=ROOT, start_new_session=True)


def _stop(processes: list[tuple[str, subprocess.Popen]]) -> None:
    for _name, process in reversed(processes):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for _name, process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _interrupt(signum, _frame) -> None:
    raise KeyboardInterrupt


def main() -> int:
    # Installed explicitly: a launcher started in the background inherits SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    embedded = None
    if not env.get("REDIS_URL"):
        from plixo.redis_conn import start_embedded_redis

        embedded = start_embedded_redis(str(INSTANCE_DIR))
        env["REDIS_URL"] = os.environ["REDIS_URL"] = f"unix://{embedded.socket_file}"
    sink = None
    if not env.get("SMTP_HOST"):
        from plixo.devmail import start_dev_sink

        sink = start_dev_sink(INSTANCE_DIR / "dev-outbox")
        env.update(SMTP_HOST=sink.hostname, SMTP_PORT=str(sink.port), DEV_OUTBOX_DIR=str(INSTANCE_DIR / "dev-outbox"))
    host, port = env.get("HOST", "127.0.0.1"), env.get("PORT", "5000")
    env.setdefault("PUBLIC_BASE_URL", f"http://{host}:{port}")  # pay and portal links in e-mails open here
    python = sys.executable
    logins = _prepare_database()
    processes: list[tuple[str, subprocess.Popen]] = []
    try:
        processes.append(("worker", _spawn("worker", [python, "-m", "jobs.worker"], env)))
        rq = str(Path(python).with_name("rq"))
        processes.append(("cron", _spawn("cron", [rq, "cron", "jobs/cron.py", "--url", env["REDIS_URL"]], env)))
        processes.append(("web", _spawn("web", [python, "-m", "flask", "--app", "wsgi", "run", "--host", host,
                                                "--port", port, "--with-threads"], env)))
        _announce(host, port, logins)
        while all(process.poll() is None for _name, process in processes):
            time.sleep(0.5)
        failed = [name for name, process in processes if process.poll() is not None]
        print(f"\n{', '.join(failed)} stopped unexpectedly; shutting down.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping Plixo...", flush=True)
        return 0
    finally:
        _stop(processes)
        if sink is not None:
            sink.stop()
        if embedded is not None:
            embedded.shutdown()


def _announce(host: str, port: str, logins: list[tuple[str, str]]) -> None:
    from plixo.demo.seed import DEMO_PASSWORD

    print("\n" + "=" * 64)
    print(f"  Plixo is running at http://{host}:{port}/")
    if logins:
        print(f"  Demo logins (password: {DEMO_PASSWORD}):")
        for role, email in logins:
            print(f"    {role:<14} {email}")
    else:
        print("  No demo workspace in this database: sign in with your own account.")
    print("  Press Ctrl-C to stop the web server, worker, cron and Redis.")
    print("=" * 64 + "\n", flush=True)


if __name__ == "__main__":
    sys.exit(main())
