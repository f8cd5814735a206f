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

from flask import Blueprint, Response, current_app, request
from redis.exceptions import RedisError
from werkzeug.exceptions import RequestEntityTooLarge

from bot.directory import local_account, read_account
from bot.pipeline import handle_push
from bot.push_gate import StaleAccount
from bot.protocol import BadPush, open_envelope, parse, signature_ok
from models import Account

log = logging.getLogger(__name__)
bp = Blueprint("webhook", __name__)


def _plain(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/plain")


@bp.route("/wechat/<slug>", methods=["GET", "POST"])
def wechat(slug: str) -> Response:
    # WeChat's 5 s (§2) started when the request reached the front server, if it says when.
    received = time.monotonic() - queued_for(request.headers.get("X-Request-Start"))
    ext = current_app.extensions
    # A push tries this process's copy of the account first: the push's first script checks it
    # against Redis's before claiming anything (bot/directory.py). A handshake, a push the copy
    # refuses (a token or AES key may have changed) and a stale copy are answered from Redis's.
    local = local_account(slug) if request.method == "POST" else None
    if local is not None:
        try:
            response = answer(slug, *local, received, final=False)
            if response.status_code < 400:
                return response
        except StaleAccount:
            pass
    account, _ = read_account(ext["redis"], ext["db"], slug)
    return answer(slug, account, "", received)


def answer(slug: str, account: Account | None, account_json: str, received: float,
           final: bool = True) -> Response:
    if account is None:
        return _plain("unknown account", 404)
    args = request.args
    if not signature_ok(account.token, args.get("signature", ""), args.get("timestamp", ""),
                        args.get("nonce", "")):
        return _plain("bad signature", 403)
    if request.method == "GET":
        return _plain(args.get("echostr", ""))   # verbatim, in every mode (§1.2)
    try:
        xml, envelope = open_envelope(account, args, request.get_data(cache=True))
        msg = parse(xml)
    except BadPush as exc:
        if final:
            log.warning("bad push account=%s: %s", slug, exc)
        return _plain("bad request", 400)
    reply = handle_push(current_app._get_current_object(), account, msg, received, xml, account_json)

    if not reply:
        # Acknowledge without a reply (§2): "success" in plaintext; an empty body in AES mode,
        # which needs no encryption (an encrypted "success" is UNCONFIRMED).
        return _plain("" if envelope.crypto else "success")
    body = envelope.seal(reply, secrets.token_hex(5), str(int(time.time())))
    return Response(body, mimetype="text/xml")


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


@bp.errorhandler(RedisError)
def redis_down(_exc) -> Response:
    # No dedup and no lock without Redis: handling the push now could run it twice; WeChat
    # delivers it again (§2), by when Redis may be back.
    log.exception("redis unavailable on %s", request.path)
    return _plain("busy", 503)


@bp.app_errorhandler(RequestEntityTooLarge)
def too_large(_exc) -> Response:
    return _plain("too large", 413)
