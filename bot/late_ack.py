"""A push that waited too long before reaching us is acknowledged before Flask sees it.

Under a burst the front server's queue is where WeChat's 5 s go (WECHAT-PLATFORM.md §2): a
request that waited DEFER_AFTER_S there gets no passive reply anyway, only the hand-off
(bot/hand_off.py). That hand-off is one Redis script; what made a late push cost more than a
third of a full one was the web stack around it (Flask's request context, routing, the session
cookie, the response object). This WSGI layer does only what the hand-off needs: the process's
copy of the account, the signature, the envelope and the push's header, the script, the empty
answer.

Anything it cannot settle goes on to the Flask app, unchanged and with the body it read: no
local copy of the account, a stale one (the script said so before claiming anything), a bad
signature, a body that is not a push (Flask gives the 403/400/413), a repeat (Flask waits for
its first delivery's reply) and Redis failing (Flask's 503). The Flask path makes the same
decision from the same `X-Request-Start`, and the dedup key makes a push handed off twice run
once.
"""
import io
import logging
from urllib.parse import parse_qsl

from redis.exceptions import RedisError

from bot.directory import local_account
from bot.hand_off import defer_late
from bot.protocol import BadPush, kind, open_envelope, parse, signature_ok
from bot.push_gate import StaleAccount
from bot.webhook import queued_for

log = logging.getLogger(__name__)

PREFIX = "/wechat/"


class LateAck:
    """WSGI middleware in front of `inner` (the Flask app's wsgi_app)."""

    def __init__(self, app, inner):
        self.app, self.inner = app, inner

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if (environ.get("REQUEST_METHOD") != "POST" or not path.startswith(PREFIX)
                or queued_for(environ.get("HTTP_X_REQUEST_START")) < self.app.config["DEFER_AFTER_S"]):
            return self.inner(environ, start_response)
        body = _read_body(environ, self.app.config["MAX_CONTENT_LENGTH"])
        answer = None if body is None else self.acknowledge(path[len(PREFIX):], environ, body)
        if answer is None:
            return self.inner(environ, start_response)
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                                  ("Content-Length", str(len(answer)))])
        return [answer]

    def acknowledge(self, slug: str, environ, body: bytes) -> bytes | None:
        """The empty answer once the push is handed off; None: Flask's turn."""
        local = local_account(slug)
        if local is None:
            return None
        account, account_json = local
        args = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        if not signature_ok(account.token, args.get("signature", ""), args.get("timestamp", ""),
                            args.get("nonce", "")):
            return None
        try:
            xml, envelope = open_envelope(account, args, body)
            msg = parse(xml)
            repeat = defer_late(self.app, account, msg, kind(msg), xml, account_json)
        except (BadPush, StaleAccount, RedisError):
            return None
        if repeat is not None:
            return None
        # Acknowledged without a reply (§2): "success" in plaintext, an empty body in AES mode.
        return b"" if envelope.crypto else b"success"


def _read_body(environ, limit: int) -> bytes | None:
    """The request body, left readable for the Flask app too; None when it has no length or
    is over the limit (Flask answers those)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    if not 0 <= length <= limit:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body
