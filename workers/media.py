"""Images the bot makes (posters, charts) leave as temporary media through the outbound policy."""

from bot.outbound import queue_media
from models.outbound import IMAGE


def send_png(job, account, openid: str, png: bytes, filename: str, caption: str) -> str:
    """Upload `png` as temporary media (3 days, WECHAT-PLATFORM.md §3.4) and queue it for
    `openid`; the media id. A failed upload raises (the job retries); nothing is queued then."""
    # Bytes, not a file object: the client retries once after a token error, and a file
    # object would be read to its end by then (WeChat would get an empty upload, 40009).
    answer = job.client(account).media.upload("image", (filename, png, "image/png"))
    queue_media(job.db, job.enqueue, account.id, openid, IMAGE, answer["media_id"], caption, job.now)
    return answer["media_id"]
