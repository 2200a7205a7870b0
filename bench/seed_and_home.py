"""Benchmark: demo seeding and the workspace home figures on a realistic workspace.

    .venv/bin/python -m bench.seed_and_home [--invoices 3000] [--repeat 20]

Uses DATABASE_URL when set (else a throwaway SQLite file) and prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="plixo-bench-")
    os.environ.setdefault("PLIXO_INSTANCE_DIR", workdir)
    from flask_migrate import upgrade
    from sqlalchemy import select

    from plixo import create_app
    from plixo.accounts.models import Organization
    from plixo.demo.seed import seed_demo
    from plixo.extensions import db
    from plixo.insights.service import home_figures
    from plixo.tenancy import tenant_scope

    # DATABASE_URL (read by the app's own config) when set, else a throwaway SQLite file.
    overrides = {} if os.environ.get("DATABASE_URL") else {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir}/bench.db"}
    app = create_app(overrides)
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        result = seed_demo(db.session, invoices=args.invoices)
        db.session.commit()
        seed_seconds = time.perf_counter() - started
        org = db.session.scalar(select(Organization).where(Organization.id == result.org_id))
        timings = []
        with tenant_scope(org.id):
            for _ in range(args.repeat):
                started = time.perf_counter()
                home_figures(db.session, org)
                timings.append((time.perf_counter() - started) * 1000)
    print(json.dumps({
        "benchmark": "seed_and_home",
        "database": app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0],
        "invoices": result.invoices,
        "seed_seconds": round(seed_seconds, 2),
        "home_figures_ms_p50": round(statistics.median(timings), 1),
        "home_figures_ms_max": round(max(timings), 1),
    }))


if __name__ == "__main__":
    main()
