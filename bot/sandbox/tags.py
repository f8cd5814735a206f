"""User tags (WECHAT-PLATFORM.md §4.4; User_Tag_Management.html, api_batchtagging).

Ids 0, 1 and 2 are WeChat's own (2 is 星标组, listed by tags/get as WeChat does); ours start at
100. A fan's tags keep the order they were applied in, because a conditional menu matches the
last tag applied (§4.6). Re-applying a tag the fan already has changes nothing (real WeChat's
behaviour here is undocumented; the stricter reading is taken, so code cannot rely on a re-tag
to move a tag last: untag first).
"""
from typing import Any

from bot.sandbox import keys
from bot.sandbox.base import Backend, as_int, require_dict, utf8_len
from bot.sandbox.errors import ApiError
from bot.sandbox.fans import PAGE_MAX, Fans

SYSTEM_TAGS = {0: "未分组", 1: "黑名单", 2: "星标组"}
FIRST_TAG_ID = 100
NAME_MAX_BYTES = 30
BATCH_MAX = 50
UNDELETABLE_FANS = 100_000


class Tags:
    """The tag APIs and the tags on each fan."""

    def __init__(self, backend: Backend, fans: Fans):
        self.b = backend
        self.fans = fans

    def names(self, appid: str) -> dict[int, str]:
        """The account's own tags, id -> name."""
        raw = self.b.redis.hgetall(keys.sandbox_tags(appid))
        return {int(k): v.decode() for k, v in sorted(raw.items(), key=lambda kv: int(kv[0]))}

    def count(self, appid: str, tag_id: int) -> int:
        """How many fans carry a tag."""
        return int(self.b.redis.zcard(keys.sandbox_tag_fans(appid, tag_id)))

    def listing(self, appid: str) -> list[dict[str, Any]]:
        """The account's own tags with their fan counts."""
        return [{"id": i, "name": n, "count": self.count(appid, i)}
                for i, n in self.names(appid).items()]

    def _check_name(self, appid: str, name: Any, own_id: int | None = None) -> str:
        """45157 empty or duplicate, 45158 over 30 bytes."""
        if not isinstance(name, str) or not name.strip():
            raise ApiError(45157, "tag name is empty")
        if utf8_len(name) > NAME_MAX_BYTES:
            raise ApiError(45158)
        taken = {n for i, n in self.names(appid).items() if i != own_id} | {SYSTEM_TAGS[2]}
        if name in taken:
            raise ApiError(45157, f"a tag named {name!r} exists")
        return name

    def _existing(self, appid: str, raw_id: Any) -> int:
        """A tag id of the account: 45058 for WeChat's own, 45159 for unknown ones."""
        tag_id = as_int(raw_id)
        if tag_id in SYSTEM_TAGS:
            raise ApiError(45058)
        if tag_id is None or not self.b.redis.hexists(keys.sandbox_tags(appid), tag_id):
            raise ApiError(45159)
        return tag_id

    def create(self, appid: str, body: Any) -> dict[str, Any]:
        """POST /cgi-bin/tags/create: at most 100 tags per account (45056)."""
        tag = require_dict(require_dict(body).get("tag"))
        name = self._check_name(appid, tag.get("name"))
        limit = self.b.limit("tags_per_account")
        if int(self.b.redis.hlen(keys.sandbox_tags(appid))) >= limit:
            raise ApiError(45056, f"an account has at most {limit} tags")
        tag_id = self.b.next_id(appid, "tag", FIRST_TAG_ID)
        self.b.redis.hset(keys.sandbox_tags(appid), tag_id, name)
        return {"tag": {"id": tag_id, "name": name}}

    def get(self, appid: str) -> dict[str, Any]:
        """GET /cgi-bin/tags/get."""
        star = {"id": 2, "name": SYSTEM_TAGS[2], "count": 0}
        return {"tags": [star, *self.listing(appid)]}

    def update(self, appid: str, body: Any) -> dict[str, Any]:
        """POST /cgi-bin/tags/update (rename)."""
        tag = require_dict(require_dict(body).get("tag"))
        tag_id = self._existing(appid, tag.get("id"))
        name = self._check_name(appid, tag.get("name"), own_id=tag_id)
        self.b.redis.hset(keys.sandbox_tags(appid), tag_id, name)
        return {"errcode": 0, "errmsg": "ok"}

    def delete(self, appid: str, body: Any) -> dict[str, Any]:
        """POST /cgi-bin/tags/delete: also untags its fans; 45057 past 100 000 fans."""
        tag_id = self._existing(appid, require_dict(require_dict(body).get("tag")).get("id"))
        if self.count(appid, tag_id) > UNDELETABLE_FANS:
            raise ApiError(45057)
        fans_key = keys.sandbox_tag_fans(appid, tag_id)
        for openid in self.b.redis.zrange(fans_key, 0, -1):
            self.b.redis.lrem(keys.sandbox_fan_tags(appid, openid.decode()), 0, tag_id)
        self.b.redis.delete(fans_key)
        self.b.redis.hdel(keys.sandbox_tags(appid), tag_id)
        return {"errcode": 0, "errmsg": "ok"}

    def _batch(self, appid: str, body: Any) -> tuple[int, list[str]]:
        """The tag id and openids of a (un)tagging call: 40032 outside 1..50 openids."""
        body = require_dict(body)
        tag_id = self._existing(appid, body.get("tagid"))
        openids = body.get("openid_list")
        if not isinstance(openids, list) or not 1 <= len(openids) <= BATCH_MAX:
            raise ApiError(40032, f"openid_list must hold 1..{BATCH_MAX} openids")
        return tag_id, [self.fans.require_known(appid, o) for o in openids]

    def tag(self, appid: str, body: Any) -> dict[str, Any]:
        """POST /cgi-bin/tags/members/batchtagging: at most 20 tags per fan (45059); all or none."""
        tag_id, openids = self._batch(appid, body)
        limit = self.b.limit("tags_per_fan")
        fresh = [o for o in dict.fromkeys(openids) if tag_id not in self.fans.tag_ids(appid, o)]
        if any(len(self.fans.tag_ids(appid, o)) >= limit for o in fresh):
            raise ApiError(45059, f"a fan carries at most {limit} tags")
        for openid in fresh:
            self.b.redis.rpush(keys.sandbox_fan_tags(appid, openid), tag_id)
            self.b.redis.zadd(keys.sandbox_tag_fans(appid, tag_id), {openid: 0})
        return {"errcode": 0, "errmsg": "ok"}

    def untag(self, appid: str, body: Any) -> dict[str, Any]:
        """POST /cgi-bin/tags/members/batchuntagging."""
        tag_id, openids = self._batch(appid, body)
        for openid in openids:
            self.b.redis.lrem(keys.sandbox_fan_tags(appid, openid), 0, tag_id)
            self.b.redis.zrem(keys.sandbox_tag_fans(appid, tag_id), openid)
        return {"errcode": 0, "errmsg": "ok"}

    def of_fan(self, appid: str, body: Any) -> dict[str, Any]:
        """POST /cgi-bin/tags/getidlist."""
        openid = self.fans.require_known(appid, require_dict(body).get("openid"))
        return {"tagid_list": self.fans.tag_ids(appid, openid)}

    def fans_of(self, appid: str, body: Any) -> dict[str, Any]:
        """POST /cgi-bin/user/tag/get: the tag's fans, 10 000 per page after next_openid."""
        body = require_dict(body)
        tag_id = self._existing(appid, body.get("tagid"))
        after = body.get("next_openid")
        low = f"({after}" if after else "-"
        key = keys.sandbox_tag_fans(appid, tag_id)
        page = [o.decode() for o in self.b.redis.zrangebylex(key, low, "+", start=0, num=PAGE_MAX)]
        return {"count": len(page), "data": {"openid": page},
                "next_openid": page[-1] if page else ""}
