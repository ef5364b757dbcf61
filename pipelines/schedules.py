"""The schedules: the daily pipeline run and the core's hourly billing cycle. Retraining has
no schedule of its own: the daily run's scoring retrains when the champion is a week old."""

import dagster as dg

from .jobs import churniq_job, core_billing

daily_schedule = dg.ScheduleDefinition(
    job=churniq_job, cron_schedule="0 3 * * *", execution_timezone="UTC"
)

hourly_billing = dg.ScheduleDefinition(
    job=core_billing, cron_schedule="5 * * * *", execution_timezone="UTC"
)
