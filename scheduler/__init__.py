"""APScheduler: the outbox dispatch tick and the cron jobs."""
