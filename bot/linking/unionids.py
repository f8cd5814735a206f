"""Asking WeChat for fans' unionids (§5.2): one coalesced run of workers.linking.learn_unionids per
account at a time, which asks about every fan of the account not asked yet."""
JOB = "workers.linking.learn_unionids"
RETRY = (5, 15, 60)


def job_id(account_id: int) -> str:
    return f"learn-unionids-{account_id}"


def learn_later(enqueue, account_id: int) -> None:
    """Ask for the account's run (queued once until it starts, bot/jobs.py `coalesce`)."""
    enqueue(JOB, account_id, job_id=job_id(account_id), coalesce=True, retry=RETRY)
