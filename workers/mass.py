"""Mass sends' WeChat calls: the preview to a staff member, and the send itself.

`send` is safe under retries: the request carries the row's client_msg_id, fixed when the send
was planned, and WeChat answers a repeat with 45065 and the msg_id of the send it already made
(WECHAT-PLATFORM.md §4.13), so a job retried after WeChat accepted the first request records
that send instead of making another. The row is locked while the job runs.
"""
import base64
import logging

from sqlalchemy import select

from bot.mass.plan import plan, record_deliveries
from bot.wechat import WeChatError
from models import Account, MassSend, WechatTag
from models.mass import FAILED, FINISHED, PLANNED, SUBMITTED
from workers.runtime import job_scope

log = logging.getLogger(__name__)

CLIENT_MSG_ID_EXISTS = 45065    # §4.13: a send with this clientmsgid exists (its msg_id comes back)


def _payload(client, send: MassSend) -> dict:
    """The message part of the request; media are uploaded now (temporary media, 3 days)."""
    content = send.content
    if send.msgtype == "text":
        return {"text": {"content": content["text"]}}
    if send.msgtype == "image":
        png = base64.b64decode(content["image_b64"])
        answer = client.media.upload("image", (content["filename"], png, content.get("mime", "image/png")))
        return {"image": {"media_id": answer["media_id"]}}
    answer = client.post("media/uploadnews", data={"articles": content["articles"]})
    return {"mpnews": {"media_id": answer["media_id"]}}


def preview(send_id: int, openid: str) -> None:
    """One staff member receives the send as fans will (mass preview API)."""
    with job_scope() as job:
        send = job.db.get(MassSend, send_id)
        account = job.db.get(Account, send.account_id)
        client = job.client(account)
        body = {"touser": openid, "msgtype": send.msgtype, **_payload(client, send)}
        try:
            client.post("message/mass/preview", data=body)
        except WeChatError as exc:
            if exc.retryable:
                raise
            log.warning("mass preview of send %s not delivered: %s", send_id, exc)


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
