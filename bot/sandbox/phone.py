"""WeChat's server and one person's phone, played against our webhook.

Builds the push XML WeChat would send, signs it, encrypts it in compatible or safe mode, posts
it, and reads the reply back. The crypto is werobot's (an implementation independent of the
wechatpy code the webhook uses), so every round trip checks one against the other. Used by
`flask sandbox chat` and by the tests' `wx` fixture.
"""
import hashlib
import itertools
import secrets
import time
from dataclasses import dataclass
from typing import Callable
from xml.sax.saxutils import escape

import xmltodict
from werobot.crypto import MessageCrypt

# (path, query, body) -> (HTTP status, body bytes)
Post = Callable[[str, dict, bytes], tuple[int, bytes]]
MODES = ("plain", "compat", "safe")
# WeChat's MsgIds are unique; two sandbox processes (chat --url on a shared Redis) must not
# replay each other's pushes as retries: each starts at a random point of the 64-bit range.
_msg_ids = itertools.count(7_000_000_000_000_000_001 + secrets.randbelow(10**17))


@dataclass
class Reply:
    """What the webhook answered to one push."""

    status: int
    body: bytes
    fields: dict | None          # the decrypted, parsed reply XML; None for success / empty

    @property
    def content(self) -> str | None:
        return (self.fields or {}).get("Content")

    @property
    def type(self) -> str | None:
        return (self.fields or {}).get("MsgType")


def signature(token: str, *parts: str) -> str:
    return hashlib.sha1("".join(sorted([token, *parts])).encode()).hexdigest()


def sandbox_openid(account_slug: str, name: str) -> str:
    """A stable 28-character openid for a named sandbox person on one account."""
    return "o" + hashlib.sha1(f"{account_slug}:{name}".encode()).hexdigest()[:27]


class Phone:
    """One person on one account. `world` (a SandboxWeChat) learns what the person did, so its
    customer-service windows and follow state match the pushes, as WeChat's own would."""

    def __init__(self, post: Post, account, openid: str, mode: str = "plain", world=None,
                 clock=None):
        assert mode in MODES, mode
        self.post, self.account, self.openid, self.mode = post, account, openid, mode
        self.world, self.clock = world, clock
        self.last: Reply | None = None

    # --- what the person does ---------------------------------------------------------
    def text(self, content: str) -> str | None:
        return self.send("text", {"Content": content}, user_event="message").content

    def follow(self, scene: str | None = None) -> str | None:
        if scene is None:
            return self.event("subscribe", user_event="follow").content
        return self.event("subscribe", key=f"qrscene_{scene}", extra={"Ticket": "sandbox"},
                          user_event="follow").content

    def scan(self, scene: str) -> str | None:
        return self.event("SCAN", key=scene, extra={"Ticket": "sandbox"}, user_event="scan").content

    def click(self, key: str) -> str | None:
        return self.event("CLICK", key=key, user_event="click").content

    def unfollow(self) -> str | None:
        return self.event("unsubscribe", user_event="unfollow").content

    def location(self, lat: float, lng: float, label: str = "") -> str | None:
        fields = {"Location_X": lat, "Location_Y": lng, "Scale": 15, "Label": label}
        return self.send("location", fields, user_event="message").content

    # --- the wire -----------------------------------------------------------------------
    def send(self, msg_type: str, fields: dict, user_event: str | None = None,
             msg_id: int | None = None) -> Reply:
        """A user message with a fresh MsgId (or the given one, to replay a retry)."""
        body = {"MsgType": msg_type, **fields, "MsgId": msg_id or next(_msg_ids)}
        return self.deliver(self.xml(body), user_event)

    def event(self, name: str, key: str | None = None, extra: dict | None = None,
              user_event: str | None = None) -> Reply:
        body = {"MsgType": "event", "Event": name, **({"EventKey": key} if key is not None else {}),
                **(extra or {})}
        return self.deliver(self.xml(body), user_event)

    def xml(self, fields: dict, create_time: int | None = None) -> str:
        """The plaintext push WeChat would send (§3.1 header first)."""
        now = create_time or self._now()
        header = {"ToUserName": self.account.original_id or "gh_sandbox", "FromUserName": self.openid,
                  "CreateTime": now}
        parts = []
        for name, value in {**header, **fields}.items():
            text = str(value)
            parts.append(f"<{name}>{text}</{name}>" if isinstance(value, int)
                         else f"<{name}><![CDATA[{text}]]></{name}>")
        return "<xml>" + "".join(parts) + "</xml>"

    def deliver(self, xml: str, user_event: str | None = None) -> Reply:
        """Post one push as WeChat would (signed; encrypted per mode) and read the reply."""
        if self.world is not None and user_event:
            self.world.user_event(self.account.appid, self.openid, user_event)
        query, body = self.wrap(xml)
        status, raw = self.post(f"/wechat/{self.account.slug}", query, body)
        self.last = Reply(status, raw, self.unwrap(raw) if status == 200 else None)
        return self.last

    def wrap(self, xml: str, timestamp: str | None = None, nonce: str | None = None) -> tuple[dict, bytes]:
        timestamp = timestamp or str(self._now())
        nonce = nonce or str(secrets.randbelow(10**9))
        query = {"signature": signature(self.account.token, timestamp, nonce), "timestamp": timestamp,
                 "nonce": nonce, "openid": self.openid}
        if self.mode == "plain":
            return query, xml.encode()
        envelope = xmltodict.parse(self._crypt().encrypt_message(xml, timestamp, nonce))["xml"]
        encrypt = envelope["Encrypt"]
        query.update(encrypt_type="aes", msg_signature=signature(self.account.token, timestamp, nonce, encrypt))
        if self.mode == "safe":
            outer = f"<xml><ToUserName><![CDATA[{escape(self.account.original_id or 'gh_sandbox')}]]></ToUserName>"
            return query, (outer + f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>").encode()
        return query, xml.replace("</xml>", f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>").encode()

    def unwrap(self, raw: bytes) -> dict | None:
        """The reply's fields; an encrypted reply is checked (MsgSignature) and decrypted."""
        if raw in (b"", b"success"):
            return None
        fields = xmltodict.parse(raw)["xml"]
        if "Encrypt" in fields:
            plain = self._crypt().decrypt_message(fields["TimeStamp"], fields["Nonce"],
                                                  fields["MsgSignature"], fields["Encrypt"])
            fields = xmltodict.parse(plain)["xml"]
        return fields

    def _now(self) -> int:
        return int(self.clock.timestamp() if self.clock else time.time())

    def _crypt(self) -> MessageCrypt:
        return MessageCrypt(self.account.token, self.account.aes_key, self.account.appid)
