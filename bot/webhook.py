"""`/wechat/<slug>`: the GET handshake and every push, in the request's mode (§1).

Status codes: 404 unknown account, 403 bad signature, 400 a body that is not a well-formed
push for this account (bad msg_signature, AppID, base64, padding, XML, DTD), 413 over 1 MB,
503 when Redis is down. A push that cannot be answered in time (the fan's lock held, or a
long wait before it reached us) is acknowledged and finished by a worker (bot/overload.py).
Never a 500.
"""
import logging
import secrets
import time
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, request
from redis.exceptions import RedisError
from werkzeug.exceptions import RequestEntityTooLarge

from bot.directory import local_account, read_account
from bot.pipeline import handle_push
from bot.push_gate import StaleAccount
from bot.protocol import BadPush, open_envelope, parse, signature_ok
from models import Account

log = logging.getLogger(__name__)
bp = Blueprint("webhook", __name__)


@dataclass(frozen=True)
class Answer:
    """What the webhook says to WeChat, for Flask's view or the WSGI layer (bot/fast_webhook.py)."""

    status: int
    body: str
    mimetype: str = "text/plain"

    def response(self) -> Response:
        return Response(self.body, status=self.status, mimetype=self.mimetype)


@bp.route("/wechat/<slug>", methods=["GET", "POST"])
def wechat(slug: str) -> Response:
    # WeChat's 5 s (§2) started when the request reached the front server, if it says when.
    received = time.monotonic() - queued_for(request.headers.get("X-Request-Start"))
    app = current_app._get_current_object()
    # A push tries this process's copy of the account first: the push's first script checks it
    # against Redis's before claiming anything (bot/directory.py). A handshake, a push the copy
    # refuses (a token or AES key may have changed) and a stale copy are answered from Redis's.
    local = local_account(slug) if request.method == "POST" else None
    if local is not None:
        try:
            said = answer(app, slug, *local, request.method, request.args, request.get_data(cache=True),
                          received, final=False)
            if said.status < 400:
                return said.response()
        except StaleAccount:
            pass
    account, _ = read_account(app.extensions["redis"], app.extensions["db"], slug)
    return answer(app, slug, account, "", request.method, request.args, request.get_data(cache=True),
                  received).response()


def answer(app: Flask, slug: str, account: Account | None, account_json: str, method: str, args,
           body: bytes, received: float, final: bool = True) -> Answer:
    """The answer to one request for `account` (None: unknown). `args`: the query's values;
    `final`: the last try (a bad push is logged only then)."""
    if account is None:
        return Answer(404, "unknown account")
    if not signature_ok(account.token, args.get("signature", ""), args.get("timestamp", ""),
                        args.get("nonce", "")):
        return Answer(403, "bad signature")
    if method == "GET":
        return Answer(200, args.get("echostr", ""))   # verbatim, in every mode (§1.2)
    try:
        xml, envelope = open_envelope(account, args, body)
        msg = parse(xml)
    except BadPush as exc:
        if final:
            log.warning("bad push account=%s: %s", slug, exc)
        return Answer(400, "bad request")
    reply = handle_push(app, account, msg, received, xml, account_json)

    if not reply:
        # Acknowledge without a reply (§2): "success" in plaintext; an empty body in AES mode,
        # which needs no encryption (an encrypted "success" is UNCONFIRMED).
        return Answer(200, "" if envelope.crypto else "success")
    return Answer(200, envelope.seal(reply, secrets.token_hex(5), str(int(time.time()))), "text/xml")


def queued_for(header: str | None) -> float:
    """Seconds the request waited before us, from a front server's `X-Request-Start: t=<epoch>`
    (nginx: `t=${msec}`, seconds; others send milliseconds or microseconds); 0 without one."""
    if not header:
        return 0.0
    try:
        stamp = float(header.strip().removeprefix("t="))
    except ValueError:
        return 0.0
    stamp /= 1e6 if stamp > 1e14 else 1e3 if stamp > 1e11 else 1
    return min(max(time.time() - stamp, 0.0), 60.0)


# No dedup and no lock without Redis: handling the push now could run it twice; WeChat
# delivers it again (§2), by when Redis may be back.
REDIS_DOWN = Answer(503, "busy")


@bp.errorhandler(RedisError)
def redis_down(_exc) -> Response:
    log.exception("redis unavailable on %s", request.path)
    return REDIS_DOWN.response()


@bp.app_errorhandler(RequestEntityTooLarge)
def too_large(_exc) -> Response:
    return Answer(413, "too large").response()
