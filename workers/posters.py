"""Staff posters: the job behind 海报 (handlers/poster.py)."""
import hashlib
import json
import logging
from datetime import datetime, timedelta, timezone

from bot import keys
from bot.clock import CST
from bot.qr import poster, staff_code
from bot.qr.codes import QrUnavailable, where_codes_are_made
from bot.telling import Media
from bot.wechat import WeChatError
from models import Account, QrCode, Staff, Store
from models.outbound import IMAGE
from workers.media import give_up, send_png, tell_and_release
from workers.runtime import job_scope, last_attempt

log = logging.getLogger(__name__)

# Temporary media live 3 days (WECHAT-PLATFORM.md §3.4, New_temporary_materials). An upload is
# reused for less than 2.5 days, so a reused image still has half a day to reach the person.
MEDIA_REUSE = timedelta(days=2, hours=12)
FAILED = "抱歉，海报没有生成成功：{reason}。"
# What a WeChat refusal means for the staff member, in plain words (§4.15).
REASONS = {
    48001: "本公众号没有生成带参数二维码或上传图片的权限（需要已认证的服务号），请联系管理员",
    45009: "今天的微信接口调用次数已用完，请明天再发送“海报”",
    40164: "服务器的 IP 未加入公众号白名单，请联系管理员",
    40009: "海报图片超过了微信的大小限制，请联系管理员更换门店背景图",
}
BUSY = "微信服务器繁忙，请稍后再发送“海报”重试"


def send_poster(account_id: int, staff_id: int, openid: str) -> None:
    """Makes the staff member's poster (their own code on their store's background) and sends it
    to them as an image, then a line on how long the code lasts. Safe to run twice: the code is
    reused, and so is an upload of the same poster."""
    try:
        # The code commits on its own: a failed upload (retried) keeps it rather than make another.
        with job_scope() as job:
            code_id = _ensure_code(job, account_id, staff_id, openid)
        if code_id is None:
            return
        with job_scope() as job:
            account, staff = job.db.get(Account, account_id), job.db.get(Staff, staff_id)
            code = job.db.get(QrCode, code_id)
            if account is not None and staff is not None and code is not None:   # else removed meanwhile
                _send(job, account, staff, openid, code)
    except QrUnavailable:
        with job_scope() as job:
            instead = where_codes_are_made(job.db, job.app.config)
        _fail(account_id, staff_id, openid, "本公众号不能生成带参数二维码（仅认证服务号可以）", instead)
    except WeChatError as exc:
        if exc.retryable and not last_attempt():
            raise                           # rq retries (5, 15, 60 s)
        log.warning("poster failed account_id=%s staff_id=%s: %s", account_id, staff_id, exc)
        _fail(account_id, staff_id, openid, BUSY if exc.retryable else REASONS.get(
            exc.errcode, f"微信返回错误（代码 {exc.errcode}），请稍后再发送“海报”重试，多次失败请联系管理员"))


def _ensure_code(job, account_id: int, staff_id: int, openid: str) -> int | None:
    """The id of the staff member's code, with its ticket; None (and they are told) when the
    roster row went inactive meanwhile."""
    account = job.db.get(Account, account_id)
    # Locked: two jobs for one staff member (a retry overtaken by a new request) make one code.
    staff = job.db.get(Staff, staff_id, with_for_update=True)
    if account is None:
        log.warning("poster for a removed account account_id=%s", account_id)
        return None
    if staff is None or not staff.active:
        _tell(job, account, staff_id, openid, "您的员工身份已失效，如有疑问请联系门店店长")
        return None
    return staff_code.ensure(job.db, job.client(account), account, staff, job.now).id


def _send(job, account: Account, staff: Staff, openid: str, code: QrCode) -> None:
    """The image (the cached upload of the same poster, else a fresh one), then a text."""
    store = job.db.get(Store, staff.store_id)
    background = poster.background_file(job.app.config["POSTER_DIR"], store.code)
    fingerprint = hashlib.sha256("\n".join(
        [code.url, staff.name, store.name, poster.background_version(background)]).encode()).hexdigest()
    caption = f"[图片] {staff.name}的推广海报"
    cache_key = keys.poster_media(account.slug, staff.id)
    media_id = _cached_media(job, cache_key, fingerprint)
    reused = media_id is not None
    if reused:
        job.tell((account.id, openid), Media(IMAGE, media_id, caption))
    else:
        png = poster.compose(code.url, staff.name, store.name, background)
        media_id = send_png(job, account, openid, png, f"poster-{code.scene}.png", caption)
        record = {"media_id": media_id, "uploaded_at": job.now.timestamp(), "fingerprint": fingerprint}
        job.redis.set(cache_key, json.dumps(record), ex=keys.POSTER_MEDIA_TTL)
    until = code.expires_at.astimezone(CST)   # dates people read are China dates
    job.tell((account.id, openid), f"这是您的专属海报：顾客长按识别二维码关注后，会记在您和{store.name}名下。"
                                   f"二维码有效期至 {until:%Y-%m-%d}，临近到期时再发送“海报”即可换新。")
    log.info("poster queued account=%s staff_id=%s code_id=%s reused_upload=%s", account.slug, staff.id,
             code.id, reused)


def _cached_media(job, key: str, fingerprint: str) -> str | None:
    """The media id of this very poster if it was uploaded less than 2.5 days ago (by the job's
    clock; the key's TTL only frees memory)."""
    raw = job.redis.get(key)
    if raw is None:
        return None
    record = json.loads(raw)
    uploaded = datetime.fromtimestamp(record["uploaded_at"], timezone.utc)
    if record["fingerprint"] != fingerprint or job.now - uploaded >= MEDIA_REUSE:
        return None
    return record["media_id"]


def _fail(account_id: int, staff_id: int, openid: str, reason: str, instead: str = "") -> None:
    give_up(account_id, openid, FAILED.format(reason=reason) + instead,
            lambda slug: keys.poster_lock(slug, staff_id))


def _tell(job, account: Account, staff_id: int, openid: str, reason: str) -> None:
    tell_and_release(job, account, openid, FAILED.format(reason=reason), keys.poster_lock(account.slug, staff_id))
