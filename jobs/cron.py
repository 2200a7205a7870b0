"""RQ cron configuration: `rq cron jobs/cron.py` (started by `make run`)."""

from rq import cron

from jobs.autopilot import autopilot_tick
from jobs.collections import refresh_all_queues
from jobs.digests import send_weekly_digests
from jobs.inbox import read_all_inboxes
from jobs.outbox import send_due_messages
from jobs.snapshots import take_daily_snapshots
from jobs.webhooks import sweep_unapplied_events
from plixo.background import DEFAULT, SENDS, WEBHOOKS

# Hourly, so every workspace gets its snapshot soon after its own local midnight.
cron.register(take_daily_snapshots, DEFAULT, interval=3600)
# Hourly too: promises break and invoices age at each workspace's local midnight.
cron.register(refresh_all_queues, DEFAULT, interval=3600)
# Hourly: each workspace's weekly digest goes from 08:00 on its first sending day (Monday), outside quiet hours.
cron.register(send_weekly_digests, DEFAULT, interval=3600)
# Every minute: scheduled e-mails go out close to their time.
cron.register(send_due_messages, SENDS, interval=60)
# Every five minutes: running cadences turn due steps into drafts (Shadow) and scheduled sends (Autopilot).
cron.register(autopilot_tick, DEFAULT, interval=300)
# Every minute: Stripe events whose job was lost, or that wait for another event, are applied again.
cron.register(sweep_unapplied_events, WEBHOOKS, interval=60)
# Every two minutes: replies in connected inboxes are read, so disputes and out-of-office notes act quickly.
cron.register(read_all_inboxes, DEFAULT, interval=120)
