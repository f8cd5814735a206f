"""Mass sends (群发) by tag, previews and their finish events (WECHAT-PLATFORM.md §4.13, §3.3).

- sendall {filter: {is_to_all, tag_id}, msgtype, <type>, clientmsgid}: the tag's following
  fans (or all of them) receive it. A 订阅号 has one successful mass send a day (45028 past it);
  on a 服务号 each fan receives at most 4 a month, the others are filtered (FilterCount).
- clientmsgid: the same id again answers 45065 with the msg_id of the send it already made, so a
  retried request never sends twice (the code is the one Batch_Sends.html gives; UNCONFIRMED
  whether the real answer carries msg_id in every case, so callers keep their own record too).
- preview {touser, msgtype, <type>}: one fan receives it (100 previews a day).
- uploadnews {articles: [1..8]}: a news media_id for mpnews.
- The finish event is kept for the test or the demo to deliver to the webhook
  (`SandboxWeChat.mass_finish_events`): MsgID, Status, TotalCount, FilterCount, SentCount, ErrorCount.
"""
import json
from datetime import datetime
from typing import Any

from bot.clock import CST
from bot.sandbox import keys
from bot.sandbox.base import Backend, as_int, require_dict, utf8_len
from bot.sandbox.errors import ApiError
from bot.sandbox.media import Media
from bot.sandbox.messages import Messages

MASS_MSGTYPES = ("text", "image", "mpnews")
PER_FAN_PER_MONTH = 4        # §4.13: a 服务号's fan receives at most 4 mass messages a month
PER_DAY_SUBSCRIPTION = 1     # §4.13: a 订阅号 has 1 successful mass send a day
PREVIEWS_PER_DAY = 100
CLIENT_MSG_ID_MAX = 64
NEWS_MAX_ARTICLES = 8
FIRST_MSG_ID = 1_000_000_001
MONTH_TTL = 40 * 24 * 3600  # a per-month counter outlives its month


class Duplicate(ApiError):
    """45065: a send with this clientmsgid exists; the answer names its msg_id."""

    def __init__(self, msg_id: int):
        super().__init__(45065, "clientmsgid exists")
        self.msg_id = msg_id

    def answer(self) -> dict[str, object]:
        return {**super().answer(), "msg_id": self.msg_id}


class Mass:
    def __init__(self, backend: Backend, messages: Messages, media: Media, account_type):
        self.b, self.messages, self.media = backend, messages, media
        self.account_type = account_type     # appid -> "service" | "subscription"

    def _content(self, appid: str, body: dict) -> tuple[str, str | None]:
        msgtype = body.get("msgtype")
        if msgtype not in MASS_MSGTYPES:
            raise ApiError(40008, f"msgtype must be one of {', '.join(MASS_MSGTYPES)}")
        payload = body.get(msgtype)
        if not isinstance(payload, dict):
            raise ApiError(47001, f'"{msgtype}" must be an object')
        if msgtype == "text":
            content = payload.get("content")
            if not isinstance(content, str) or not content:
                raise ApiError(44004)
            return msgtype, content
        media_id = payload.get("media_id")
        if msgtype == "image":
            self.media.require(appid, media_id, "image")
        elif not isinstance(media_id, str) or not self.b.redis.hexists(keys.sandbox_news(appid), media_id):
            raise ApiError(40007, "mpnews needs a media_id from media/uploadnews")
        return msgtype, None

    def sendall(self, appid: str, body: Any) -> dict[str, Any]:
        body = require_dict(body)
        client_id = body.get("clientmsgid")
        if client_id is not None and (not isinstance(client_id, str) or utf8_len(client_id) > CLIENT_MSG_ID_MAX):
            raise ApiError(47001, f"clientmsgid must be text of at most {CLIENT_MSG_ID_MAX} bytes")
        if client_id:
            seen = self.b.redis.hget(keys.sandbox_mass_client_ids(appid), client_id)
            if seen is not None:
                raise Duplicate(int(seen))
        target = require_dict(body.get("filter"))
        msgtype, content = self._content(appid, body)
        day, month = self._day_month()
        subscription = self.account_type(appid) == "subscription"
        if subscription and int(self.b.redis.hget(keys.sandbox_mass_days(appid), day) or 0) >= PER_DAY_SUBSCRIPTION:
            raise ApiError(45028, "has no masssend quota: one mass send a day on a subscription account")
        recipients = self._recipients(appid, target)
        sent, filtered = [], 0
        for openid in recipients:
            counter = keys.sandbox_mass_received(appid, openid, month)
            if not subscription and int(self.b.redis.get(counter) or 0) >= PER_FAN_PER_MONTH:
                filtered += 1
                continue
            self.b.redis.incr(counter)
            self.b.redis.expire(counter, MONTH_TTL)
            self.messages._deliver(appid, openid, "mass", msgtype, content, body)
            sent.append(openid)
        msg_id = self.b.next_id(appid, "mass", FIRST_MSG_ID)
        if client_id:
            self.b.redis.hset(keys.sandbox_mass_client_ids(appid), client_id, msg_id)
        self.b.redis.hincrby(keys.sandbox_mass_days(appid), day, 1)
        finish = {"MsgID": msg_id, "Status": "sendsuccess", "TotalCount": len(recipients),
                  "FilterCount": len(recipients) - filtered, "SentCount": len(sent), "ErrorCount": 0}
        self.b.redis.rpush(keys.sandbox_mass_finished(appid), json.dumps(finish))
        return {"errcode": 0, "errmsg": "send job submission success", "msg_id": msg_id,
                "msg_data_id": msg_id}

    def _recipients(self, appid: str, target: dict) -> list[str]:
        if target.get("is_to_all") is True:
            return [o.decode() for o in self.b.redis.zrange(keys.sandbox_followers(appid), 0, -1)]
        tag_id = as_int(target.get("tag_id"))
        if tag_id is None or not self.b.redis.hexists(keys.sandbox_tags(appid), tag_id):
            raise ApiError(40050, "filter.tag_id is not a tag of the account")
        followers = keys.sandbox_followers(appid)
        return [o.decode() for o in self.b.redis.zrange(keys.sandbox_tag_fans(appid, tag_id), 0, -1)
                if self.b.redis.zscore(followers, o) is not None]

    def preview(self, appid: str, body: Any) -> dict[str, Any]:
        body = require_dict(body)
        openid = self.messages.fans.require_known(appid, body.get("touser"))
        msgtype, content = self._content(appid, body)
        if not self.messages.fans.is_following(appid, openid):
            raise ApiError(43004, "the preview's recipient does not follow the account")
        self.b.take_quota(appid, "mass_preview", PREVIEWS_PER_DAY)
        self.messages._deliver(appid, openid, "mass_preview", msgtype, content, body)
        return {"errcode": 0, "errmsg": "preview success", "msg_id": self.b.next_id(appid, "mass", FIRST_MSG_ID)}

    def upload_news(self, appid: str, body: Any) -> dict[str, Any]:
        articles = require_dict(body).get("articles")
        if not isinstance(articles, list) or not 1 <= len(articles) <= NEWS_MAX_ARTICLES:
            raise ApiError(45008, f"1 to {NEWS_MAX_ARTICLES} articles")
        for article in articles:
            if not isinstance(article, dict) or not article.get("title") or not article.get("content"):
                raise ApiError(47001, "every article needs a title and content")
        media_id = f"news-{self.b.next_id(appid, 'news', 1)}"
        self.b.redis.hset(keys.sandbox_news(appid), media_id, json.dumps(articles, ensure_ascii=False))
        return {"type": "news", "media_id": media_id, "created_at": int(self.b.now())}

    def finish_events(self, appid: str) -> list[dict[str, Any]]:
        """The MASSSENDJOBFINISH events not delivered yet (taken: each is handed out once)."""
        key = keys.sandbox_mass_finished(appid)
        events = [json.loads(raw) for raw in self.b.redis.lrange(key, 0, -1)]
        self.b.redis.delete(key)
        return events

    def _day_month(self) -> tuple[str, str]:
        local = datetime.fromtimestamp(self.b.now(), CST)
        return local.strftime("%Y%m%d"), local.strftime("%Y%m")
