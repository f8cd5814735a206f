"""Sending verification codes (bot/binding/sms.py has the backends)."""
import logging

from bot import keys
from bot.binding.sms import send
from workers.runtime import app

log = logging.getLogger(__name__)


def send_code(account: str, openid: str, sent_at: str) -> None:
    """Sends the fan's current code. The job carries no code (rq logs a job's arguments): it
    reads the code from Redis, and does nothing if that code was replaced or expired meanwhile
    (`sent_at` names the code this job was queued for), so a retry never sends a stale code."""
    flask_app = app()
    with flask_app.app_context():
        pending = flask_app.extensions["redis"].hgetall(keys.sms_code(account, openid))
        fields = {k.decode(): v.decode() for k, v in pending.items()}
        if fields.get("sent_at") != sent_at:
            log.info("sms not sent: the code was replaced or expired account=%s", account)
            return
        send(flask_app, fields["phone"], fields["code"])
