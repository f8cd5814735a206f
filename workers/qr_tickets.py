"""QR codes an operator created through the admin API: their WeChat tickets, one code at a time."""
import logging

from bot.qr import batch as batches
from bot.wechat import WeChatError
from models import Account, QrCode
from workers.runtime import app, last_attempt

log = logging.getLogger(__name__)


def issue_codes(account_id: int, code_ids: list[int]) -> None:
    """A ticket for each code still without one (safe to run twice: a code with a ticket is
    skipped). A retryable WeChat error is raised for rq's retry; the codes done stay done."""
    flask_app = app()
    with flask_app.app_context():
        ext = flask_app.extensions
        with ext["db"]() as db:
            account = db.get(Account, account_id)
            waiting = [i for i in code_ids if (code := db.get(QrCode, i)) is not None and not code.ticket]
            if account is None or not waiting:
                return
            db.expunge(account)
        from bot.wechat import make_client
        cfg = flask_app.config
        client = make_client(account, ext["redis"], ext["http"], cfg["WECHAT_API_BASE"], cfg["WECHAT_HTTP_TIMEOUT"])
        for code_id in waiting:
            try:
                batches.issue(ext["db"], client, code_id, ext["clock"])
            except WeChatError as exc:
                if exc.retryable and not last_attempt():
                    raise
                log.warning("qr code %s: WeChat refused (%s); `qr create` with its batch finishes it", code_id, exc)
                return
