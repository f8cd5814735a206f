"""Images the bot makes (posters, charts) leave as temporary media through the outbound policy."""
import io

from bot.outbound import queue_media
from models.outbound import IMAGE


def send_png(job, account, openid: str, png: bytes, filename: str, caption: str) -> str:
    """Upload `png` as temporary media (3 days, WECHAT-PLATFORM.md §3.4) and queue it for
    `openid`; the media id. A failed upload raises (the job retries); nothing is queued then."""
    answer = job.client(account).media.upload("image", (filename, io.BytesIO(png), "image/png"))
    queue_media(job.db, job.enqueue, account.id, openid, IMAGE, answer["media_id"], caption, job.now)
    return answer["media_id"]
