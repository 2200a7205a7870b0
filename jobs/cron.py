"""RQ cron configuration: `rq cron jobs/cron.py` (started by `make run`)."""

from rq import cron

from jobs.queues import DEFAULT
from jobs.snapshots import take_daily_snapshots

# Hourly, so every workspace gets its snapshot soon after its own local midnight.
cron.register(take_daily_snapshots, DEFAULT, interval=3600)
