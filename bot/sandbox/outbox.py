"""What reaches a sandbox person besides passive replies, as it arrives.

The sandbox's WeChat keeps each person's delivered customer-service and template messages (their
inbox), and the console SMS backend keeps the texts it sent (the SMS outbox); both live in the
shared Redis, so any process sees what any other process's job sent. A Watch remembers how far
one person has read and hands over the rest; the terminal chat and the browser phones both use it.
Images and voice the bot sends are saved under instance/sandbox/ so a person can open them.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.binding.sms import sent_texts
from bot.phones import mask_phone
from bot.sandbox.state import SandboxWeChat

CODE = re.compile(r"\d{6}")
MEDIA_TYPES = ("image", "voice", "video")


@dataclass
class Arrival:
    """One thing that reached the person: kind is custom, template or sms."""

    kind: str
    msgtype: str
    text: str = ""
    path: str | None = None           # saved media, relative to the checkout where possible
    media_id: str | None = None
    news: list[dict[str, Any]] = field(default_factory=list)
    phone: str | None = None          # an SMS's number, masked

    def line(self) -> str:
        """The terminal's one line for it."""
        if self.kind == "sms":
            return f"  [短信 {self.phone}] {self.text}"
        label = "客服消息" if self.kind == "custom" else "模板消息"
        if self.msgtype in MEDIA_TYPES:
            where = self.path or f"media {self.media_id} (its bytes are gone)"
            return f"  [{label} {_MEDIA_NAMES[self.msgtype]}] {where}"
        return f"  [{label}] {self.text}"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "msgtype": self.msgtype, "text": self.text, "path": self.path,
                "media_id": self.media_id, "news": self.news, "phone": self.phone}


_MEDIA_NAMES = {"image": "图片", "voice": "语音", "video": "视频"}


class Watch:
    """One person's unread arrivals (from the moment the watch starts, or from `since`)."""

    def __init__(self, world: SandboxWeChat, appid: str, openid: str, media_dir: Path,
                 inbox_seen: int | None = None, sms_since: float | None = None):
        self.world, self.appid, self.openid, self.media_dir = world, appid, openid, media_dir
        self.inbox_seen = len(self._inbox()) if inbox_seen is None else inbox_seen
        texts = sent_texts(world.backend.redis)
        # The SMS outbox is trimmed to its last 100 texts: read by time, not by position.
        self.sms_since = (texts[-1]["at"] if texts else 0.0) if sms_since is None else sms_since
        self.last_code: str | None = None

    def new(self, sms: bool = True, phones: set[str] | None = None) -> list[Arrival]:
        """What arrived since the last call; SMS only to `phones` when given (a browser phone
        receives the texts sent to the numbers typed on it)."""
        arrivals = []
        inbox = self._inbox()
        for message in inbox[self.inbox_seen:]:
            arrivals.append(self._render(message))
        self.inbox_seen = len(inbox)
        if sms:
            for text in sent_texts(self.world.backend.redis):
                if text["at"] > self.sms_since:
                    self.sms_since = text["at"]
                    if phones is not None and text["phone"] not in phones:
                        continue
                    found = CODE.search(text["text"])
                    self.last_code = found.group(0) if found else self.last_code
                    arrivals.append(Arrival("sms", "sms", text["text"], phone=mask_phone(text["phone"])))
        return arrivals

    def _inbox(self) -> list[dict[str, Any]]:
        return self.world.messages_to(self.appid, self.openid)

    def _render(self, message: dict[str, Any]) -> Arrival:
        payload = message.get("payload") or {}
        msgtype = message.get("msgtype") or "text"
        if message["kind"] == "template":
            data = payload.get("data") or {}
            values = "  ".join(f"{k}: {v.get('value') if isinstance(v, dict) else v}"
                               for k, v in data.items())
            return Arrival("template", "template", f"{payload.get('template_id')}  {values}".strip())
        if msgtype == "text":
            return Arrival("custom", "text", message.get("content") or "")
        if msgtype in MEDIA_TYPES:
            media_id = (payload.get(msgtype) or {}).get("media_id")
            return Arrival("custom", msgtype, media_id=media_id, path=self.save(media_id))
        if msgtype == "news":
            articles = (payload.get("news") or {}).get("articles") or []
            text = " | ".join(f"{a.get('title', '')} {a.get('description', '')} {a.get('url', '')}".strip()
                              for a in articles)
            return Arrival("custom", "news", f"[图文] {text}", news=articles)
        return Arrival("custom", msgtype, f"({msgtype}) {payload.get(msgtype)}")

    def save(self, media_id: str | None) -> str | None:
        """Write the media's bytes under instance/sandbox/; the path, or None if they are gone."""
        if not media_id:
            return None
        data = self.world.media_store.content(self.appid, media_id)
        record = self.world.media(self.appid, media_id)
        if data is None or record is None:
            return None
        name = record.get("filename") or "media"
        extension = name.rsplit(".", 1)[-1] if "." in name else record["type"]
        self.media_dir.mkdir(parents=True, exist_ok=True)
        path = self.media_dir / f"{media_id[:16]}.{extension}"
        path.write_bytes(data)
        return _shown(path)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
