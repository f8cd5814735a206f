"""Pushes are answered in front of Flask: a WSGI layer around the app.

A push needs the process's copy of the account, the signature, the envelope, the pipeline
(bot/pipeline.py) and the sealed reply. Flask's request around it (the request context, URL
routing, the session cookie, the response object) cost more than a quarter of a common push and
half of a late one, whose whole work is one Redis script (bot/hand_off.py). This layer calls the
webhook's own `answer` (bot/webhook.py) with the request's values, inside the app context the
handlers may use, so both paths decide alike.

Whatever it does not settle goes on to Flask, unchanged and with the body it read, and gets the
answer it always got: a GET (the handshake), other URLs, a process without its copy of the
account yet, a stale copy (the push's first script says so before it claims anything), any
status from 400 up (a bad signature or body may be the copy's fault: Flask tries Redis's), a body
without a length or over MAX_CONTENT_LENGTH. Redis failing mid-push gets Flask's 503.
"""
import io
import logging
import time
from http import HTTPStatus
from urllib.parse import parse_qsl

from redis.exceptions import RedisError

from bot.directory import local_account
from bot.push_gate import StaleAccount
from bot.webhook import REDIS_DOWN, answer, queued_for

log = logging.getLogger(__name__)

PREFIX = "/wechat/"


class FastWebhook:
    """WSGI middleware in front of `inner` (the Flask app's wsgi_app)."""

    def __init__(self, app, inner):
        self.app, self.inner = app, inner

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "POST" or not path.startswith(PREFIX):
            return self.inner(environ, start_response)
        # WeChat's 5 s (§2) started when the request reached the front server, if it says when.
        received = time.monotonic() - queued_for(environ.get("HTTP_X_REQUEST_START"))
        slug = path[len(PREFIX):]
        local = local_account(slug)
        body = None if local is None else _read_body(environ, self.app.config["MAX_CONTENT_LENGTH"])
        if body is None:
            return self.inner(environ, start_response)
        try:
            with self.app.app_context():
                said = answer(self.app, slug, *local, "POST", _query(environ), body, received, final=False)
        except StaleAccount:
            return self.inner(environ, start_response)
        except RedisError:
            log.exception("redis unavailable on %s", path)
            return _respond(start_response, REDIS_DOWN)
        if said.status >= 400:
            return self.inner(environ, start_response)
        return _respond(start_response, said)


def _respond(start_response, said) -> list[bytes]:
    data = said.body.encode()
    start_response(f"{said.status} {HTTPStatus(said.status).phrase}",
                   [("Content-Type", f"{said.mimetype}; charset=utf-8"), ("Content-Length", str(len(data)))])
    return [data]


def _query(environ) -> dict[str, str]:
    """The query's values, the first of each name as Flask's request.args.get gives it."""
    values: dict[str, str] = {}
    for name, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
        values.setdefault(name, value)
    return values


def _read_body(environ, limit: int) -> bytes | None:
    """The request body, left readable for Flask too; None when it has no length or is over
    the limit (Flask answers those)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    if not 0 <= length <= limit:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body
