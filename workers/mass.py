"""Mass sends: the preview to a staff member, and the send itself (WeChat's mass API).

The preview is told to the staff member like any other message (bot/telling.py), through the
outbound policy's windows and order, after a line saying it is a preview: a text as it is, an
image as the same image, a news send as its articles in text (uploadnews media are for mass
sends only, not for customer-service messages).

`send` is safe under retries: the request carries the row's client_msg_id, fixed when the send
was planned, and WeChat answers a repeat with 45065 and the msg_id of the send it already made
(WECHAT-PLATFORM.md §4.13), so a job retried after WeChat accepted the first request records
that send instead of making another. The row is locked while the job runs.
"""
import base64
import logging

from sqlalchemy import select

from bot.mass.plan import plan, record_deliveries
from bot.telling import Media
from bot.wechat import WeChatError
from models import Account, MassSend, WechatTag
from models.mass import FAILED, FINISHED, PLANNED, SUBMITTED
from models.outbound import IMAGE
from workers.runtime import job_scope

log = logging.getLogger(__name__)

CLIENT_MSG_ID_EXISTS = 45065    # §4.13: a send with this clientmsgid exists (its msg_id comes back)
PREVIEW = "群发预览（标签“{tag}”，确认后才发给粉丝）："


def _image(client, content: dict) -> str:
    """The send's image uploaded as temporary media (3 days, §3.4): its media id."""
    data = base64.b64decode(content["image_b64"])
    return client.media.upload("image", (content["filename"], data, content.get("mime", "image/png")))["media_id"]


def _payload(client, send: MassSend) -> dict:
    """The message part of the request; media are uploaded now (temporary media, 3 days)."""
    content = send.content
    if send.msgtype == "text":
        return {"text": {"content": content["text"]}}
    if send.msgtype == "image":
        return {"image": {"media_id": _image(client, content)}}
    answer = client.post("media/uploadnews", data={"articles": content["articles"]})
    return {"mpnews": {"media_id": answer["media_id"]}}


def _articles(articles: list[dict]) -> str:
    return "\n\n".join(f"{i}. {a['title']}\n{a['content']}" for i, a in enumerate(articles, 1))


def preview(send_id: int, openid: str) -> None:
    """One staff member is told the send's content, as fans will get it, before it is confirmed."""
    with job_scope() as job:
        send = job.db.get(MassSend, send_id)
        account = job.db.get(Account, send.account_id)
        person = (account.id, openid)
        if send.msgtype == "image":
            try:
                media_id = _image(job.client(account), send.content)
            except WeChatError as exc:
                if exc.retryable:
                    raise
                log.warning("mass preview of send %s not delivered: %s", send_id, exc)
                return
            job.tell(person, PREVIEW.format(tag=send.tag))
            job.tell(person, Media(IMAGE, media_id, f"[图片] 群发预览 {send.content['filename']}"))
        elif send.msgtype == "text":
            job.tell(person, PREVIEW.format(tag=send.tag) + "\n" + send.content["text"])
        else:
            job.tell(person, PREVIEW.format(tag=send.tag) + "\n" + _articles(send.content["articles"]))


def send(send_id: int) -> None:
    """Sends to the tag's fans on WeChat, once."""
    with job_scope() as job:
        row = job.db.scalar(select(MassSend).where(MassSend.id == send_id).with_for_update())
        if row is None or row.status in (SUBMITTED, FINISHED, FAILED):
            return
        account = job.db.get(Account, row.account_id)
        current = plan(job.db, account, row.tag, job.now)
        wx_tag = job.db.scalar(select(WechatTag.wx_id).where(WechatTag.account_id == account.id,
                                                             WechatTag.name == row.tag))
        if current.refusal or wx_tag is None:
            row.status = FAILED
            row.error = (current.refusal or f"tag {row.tag} is not on WeChat yet (no fan carries it there)")[:255]
            log.warning("mass send %s refused: %s", row.id, row.error)
            return
        client = job.client(account)
        body = {"filter": {"is_to_all": False, "tag_id": wx_tag}, "msgtype": row.msgtype,
                **_payload(client, row), "send_ignore_reprint": 0, "clientmsgid": row.client_msg_id}
        try:
            msg_id = client.post("message/mass/sendall", data=body)["msg_id"]
        except WeChatError as exc:
            if exc.errcode == CLIENT_MSG_ID_EXISTS and exc.answer.get("msg_id"):
                msg_id = exc.answer["msg_id"]       # sent by an earlier attempt of this job
                log.info("mass send %s was already made (msg_id %s): recorded, not sent again", row.id, msg_id)
            elif exc.retryable:
                raise
            else:
                row.status, row.error = FAILED, str(exc)[:255]
                log.warning("mass send %s failed: %s", row.id, exc)
                return
        row.msg_id, row.status, row.sent_at = int(msg_id), SUBMITTED, job.now
        record_deliveries(job.db, row, current.within_limit, job.now)
        log.info("mass send %s submitted account=%s tag=%s fans=%d", row.id, account.slug, row.tag,
                 len(current.within_limit))


__all__ = ["PLANNED", "preview", "send"]
