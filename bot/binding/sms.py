"""Sending a verification code (or a notice) by SMS: a small interface, two backends.

    console  the text goes to the sandbox's SMS outbox (Redis, shown by `sandbox chat`); the log
             says only that a code went to 138****0000 (codes never appear in logs)
    http     POST SMS_HTTP_URL with JSON {"phone": "13800000000", "text": "...", "code": "123456",
             "purpose": "bind"} (a notice has no "code" and its own purpose) (Authorization:
             Bearer SMS_HTTP_TOKEN if set), SMS_HTTP_TIMEOUT seconds; any answer but 2xx is a
             failure the job retries (workers/sms.py)
"""
import json
import logging
import time

import requests
from flask import Flask

from bot.sandbox import keys
from bot.phones import mask_phone

log = logging.getLogger(__name__)


class SmsFailed(Exception):
    """The provider did not take the message (the job retries)."""


def text_for(code: str) -> str:
    return f"【旅游集团】您的验证码是 {code}，5 分钟内有效。如非本人操作请忽略。"


def send(app: Flask, phone: str, code: str) -> None:
    """Hand one verification code to the configured backend."""
    _send(app, phone, text_for(code), code, "bind")


def send_notice(app: Flask, phone: str, text: str, purpose: str) -> None:
    """Hand one notice (no code; `purpose` names it, e.g. "survey_points") to the backend."""
    _send(app, phone, text, None, purpose)


def _send(app: Flask, phone: str, text: str, code: str | None, purpose: str) -> None:
    backend = app.config["SMS_BACKEND"]
    what = "code" if code else purpose
    if backend == "console":
        redis = app.extensions["redis"]
        entry = json.dumps({"phone": phone, "text": text, "at": time.time()}, ensure_ascii=False)
        pipe = redis.pipeline()
        pipe.rpush(keys.sandbox_sms(), entry)
        pipe.ltrim(keys.sandbox_sms(), -100, -1)
        pipe.expire(keys.sandbox_sms(), keys.SANDBOX_SMS_TTL)
        pipe.execute()
        log.info("sms (console) %s sent to %s", what, mask_phone(phone))
        return
    headers = {"Authorization": f"Bearer {app.config['SMS_HTTP_TOKEN']}"} if app.config["SMS_HTTP_TOKEN"] else {}
    try:
        response = requests.post(app.config["SMS_HTTP_URL"], timeout=app.config["SMS_HTTP_TIMEOUT"],
                                 headers=headers, json={"phone": phone, "text": text,
                                                        **({"code": code} if code else {}), "purpose": purpose})
    except requests.RequestException as exc:
        raise SmsFailed(f"sms to {mask_phone(phone)}: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise SmsFailed(f"sms to {mask_phone(phone)}: HTTP {response.status_code}")
    log.info("sms (http) %s sent to %s", what, mask_phone(phone))


def sent_texts(redis) -> list[dict]:
    """The console backend's outbox, oldest first (the sandbox chat and tests read it)."""
    return [json.loads(raw) for raw in redis.lrange(keys.sandbox_sms(), 0, -1)]
