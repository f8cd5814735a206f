"""Customer-service and template messages (WECHAT-PLATFORM.md §4.7, §4.8).

A message counts as delivered, and shows up in messages_to(), only when WeChat would have
accepted it. Format is checked before the window, so a malformed send spends no budget.
"""
import json
from typing import Any

from bot.sandbox import keys
from bot.sandbox.base import Backend, require_dict, utf8_len
from bot.sandbox.errors import ApiError
from bot.sandbox.fans import Fans
from bot.sandbox.media import Media
from bot.sandbox.windows import CsWindows

CS_MSGTYPES = ("text", "image", "voice", "video", "music", "news", "mpnews", "mpnewsarticle",
               "msgmenu", "wxcard", "miniprogrampage")
MEDIA_MSGTYPES = ("image", "voice", "video")
TEXT_MAX_BYTES = 2048          # 45002 beyond (§4.7, §7: ~2048 bytes)
NEWS_MAX_ARTICLES = 1          # CS news carries one article since 2018 (45008 beyond)
TYPING_COMMANDS = ("Typing", "CancelTyping")


class Messages:
    """Sending to fans and remembering what reached them."""

    def __init__(self, backend: Backend, fans: Fans, windows: CsWindows, media: Media):
        self.b = backend
        self.fans = fans
        self.windows = windows
        self.media = media

    def custom_send(self, appid: str, body: Any) -> dict[str, Any]:
        """POST /cgi-bin/message/custom/send: format, follow state, then the window budget."""
        body = require_dict(body)
        openid = self.fans.require_known(appid, body.get("touser"))
        msgtype = body.get("msgtype")
        if msgtype not in CS_MSGTYPES:
            raise ApiError(40008, f"msgtype must be one of {', '.join(CS_MSGTYPES)}")
        content = self._check_payload(appid, msgtype, body.get(msgtype))
        if not self.fans.is_following(appid, openid):
            raise ApiError(45015, "the fan does not follow the account")
        self.windows.spend(appid, openid)
        self._deliver(appid, openid, "custom", msgtype, content, body)
        return {"errcode": 0, "errmsg": "ok"}

    def _check_payload(self, appid: str, msgtype: str, payload: Any) -> str | None:
        """Validate the <msgtype> object; the text of a text message, else None."""
        if not isinstance(payload, dict):
            raise ApiError(47001, f'"{msgtype}" must be an object')
        if msgtype == "text":
            content = payload.get("content")
            if not isinstance(content, str) or not content:
                raise ApiError(44004)
            if utf8_len(content) > TEXT_MAX_BYTES:
                raise ApiError(45002, f"text is over {TEXT_MAX_BYTES} UTF-8 bytes")
            return content
        if msgtype in MEDIA_MSGTYPES:
            self.media.require(appid, payload.get("media_id"), msgtype)
        if msgtype == "news":
            articles = payload.get("articles")
            if not isinstance(articles, list) or not articles:
                raise ApiError(47001, "news.articles must be a non-empty list")
            if len(articles) > NEWS_MAX_ARTICLES:
                raise ApiError(45008)
        return None

    def typing(self, appid: str, body: Any) -> dict[str, Any]:
        """POST /cgi-bin/message/custom/typing: accepted and recorded."""
        body = require_dict(body)
        self.fans.require_known(appid, body.get("touser"))
        if body.get("command") not in TYPING_COMMANDS:
            raise ApiError(40097, "command must be Typing or CancelTyping")
        return {"errcode": 0, "errmsg": "ok"}

    def template_send(self, appid: str, body: Any) -> dict[str, Any]:
        """POST /cgi-bin/message/template/send: only to followers (43004), returns msgid."""
        body = require_dict(body)
        openid = self.fans.require_known(appid, body.get("touser"))
        template_id = body.get("template_id")
        if not isinstance(template_id, str) or not template_id:
            raise ApiError(40037)
        if not isinstance(body.get("data"), dict):
            raise ApiError(47001, "data must be an object")
        if not self.fans.is_following(appid, openid):
            raise ApiError(43004)
        msgid = self.b.next_id(appid, "msgid", 1_000_000_001)
        self._deliver(appid, openid, "template", "template", None, body)
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    def _deliver(self, appid: str, openid: str, kind: str, msgtype: str, content: str | None,
                 payload: dict[str, Any]) -> None:
        """Append a delivered message to the fan's inbox."""
        key = keys.sandbox_inbox(appid, openid)
        entry = {"kind": kind, "msgtype": msgtype, "content": content, "payload": payload,
                 "at": self.b.now()}
        self.b.redis.rpush(key, json.dumps(entry, ensure_ascii=False))
        self.b.redis.expire(key, keys.SANDBOX_RECORD_TTL)

    def delivered(self, appid: str, openid: str) -> list[dict[str, Any]]:
        """Every message that reached the fan, oldest first."""
        inbox = self.b.redis.lrange(keys.sandbox_inbox(appid, openid), 0, -1)
        return [json.loads(raw) for raw in inbox]
