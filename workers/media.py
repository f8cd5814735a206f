"""Images the bot makes (posters, charts) leave as temporary media through the outbound policy."""

from typing import Callable

from bot.telling import Media
from models import Account
from models.outbound import IMAGE
from workers.runtime import job_scope


def send_png(job, account, openid: str, png: bytes, filename: str, caption: str) -> str:
    """Upload `png` as temporary media (3 days, WECHAT-PLATFORM.md §3.4) and queue it for
    `openid`; the media id. A failed upload raises (the job retries); nothing is queued then."""
    # Bytes, not a file object: the client retries once after a token error, and a file
    # object would be read to its end by then (WeChat would get an empty upload, 40009).
    answer = job.client(account).media.upload("image", (filename, png, "image/png"))
    job.tell((account.id, openid), Media(IMAGE, answer["media_id"], caption))
    return answer["media_id"]


def tell_and_release(job, account: Account, openid: str, text: str, claim_key: str) -> None:
    """Tell the person why their image is not coming, and lift their claim (bot/claims.py) so
    they may ask again at once."""
    job.tell((account.id, openid), text)
    job.redis.delete(claim_key)


def give_up(account_id: int, openid: str, text: str, claim_key: Callable[[str], str]) -> None:
    """tell_and_release in a transaction of its own (the job's own was rolled back);
    `claim_key(account slug)` names the claim."""
    with job_scope() as job:
        account = job.db.get(Account, account_id)
        if account is not None:
            tell_and_release(job, account, openid, text, claim_key(account.slug))
