"""The wire: signatures, AES envelopes, parsing and rendering of WeChat's XML (WECHAT-PLATFORM.md §1, §3).

wechatpy does the crypto and parsing; this module adds what it lacks: previous-key decryption
during an EncodingAESKey rotation (§1.7), one error type for every bad input (a 400, never a
500 that WeChat would retry: §6.1, §7.9), CDATA-safe text and WeChat's length limit (§7.5, §7.6).
"""
import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from wechatpy import parse_message
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.events import SubscribeEvent, SubscribeScanProductEvent
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.messages import UnknownMessage
from wechatpy.replies import ArticlesReply, TextReply, TransferCustomerServiceReply

# Text replies over ~2048 bytes fail (empirical: WECHAT-PLATFORM.md §7.5; CJK is 3 bytes, emoji 4).
TEXT_LIMIT_BYTES = 2048

# A push's FromUserName is an openid (28 characters); the fan table holds up to 64.
OPENID_MAX = 64
# WeChat never sends a DTD; one in a body is an attack (entities, external fetches), not a push.
# Only the prolog can hold one: "<!DOCTYPE" inside a CDATA Content is text a person sent.
_DOCTYPE = re.compile(r"\A(?>\s|\ufeff|<\?.*?\?>|<!--.*?-->)*+<!DOCTYPE", re.IGNORECASE | re.DOTALL)

# XML 1.0 allows only tab, LF and CR among C0 controls; also surrogates and U+FFFE/U+FFFF (§7.6).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


_DIGITS = re.compile(r"[0-9]+")


class BadPush(Exception):
    """The request is not a well-formed push for this account: answer 400 and store nothing."""


def signature_ok(token: str, signature: str, timestamp: str, nonce: str) -> bool:
    """SHA-1 of the sorted [token, timestamp, nonce] (§1.2), compared in constant time."""
    digest = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    # Bytes: compare_digest raises TypeError on a str with non-ASCII characters (a 500).
    return hmac.compare_digest(digest.encode(), (signature or "").encode())


class _StrictPrpCrypto(PrpCrypto):
    """wechatpy strips as many bytes as the last one says; PKCS#7 to 32 means 1..32 equal bytes (§1.5)."""

    def decrypt(self, text, app_id):
        plain = self.cipher.decrypt(base64.b64decode(text))
        pad = plain[-1] if plain else 0
        if not 1 <= pad <= 32 or plain[-pad:] != bytes([pad]) * pad:
            raise ValueError("bad PKCS#7 padding")
        return super().decrypt(text, app_id)


class _Crypto(WeChatCrypto):
    def decrypt_message(self, msg, signature, timestamp, nonce):
        return self._decrypt_message(msg, signature, timestamp, nonce, _StrictPrpCrypto)


@dataclass
class Envelope:
    """How the push came and so how the reply must go: plaintext, or AES with the key that worked."""

    crypto: WeChatCrypto | None = None

    def seal(self, xml: str, nonce: str, timestamp: str) -> str:
        """The reply body: as is in plaintext mode, else the encrypted envelope (§1.6)."""
        if self.crypto is None:
            return xml
        return self.crypto.encrypt_message(xml, nonce, timestamp)


def open_envelope(account: Any, args: dict, body: bytes) -> tuple[str, Envelope]:
    """Decrypt an `encrypt_type=aes` push with the current, then the previous key; else pass through."""
    if args.get("encrypt_type", "raw") != "aes":
        return body.decode("utf-8", "replace"), Envelope()
    if _DOCTYPE.search(body.decode("utf-8", "replace")):
        raise BadPush("DTD in body")
    keys = [k for k in (account.aes_key, account.previous_aes_key) if k]
    if not keys:
        raise BadPush("encrypted push but the account has no EncodingAESKey")
    error: Exception | None = None
    for key in keys:
        crypto = _Crypto(account.token, key, account.appid)
        try:
            xml = crypto.decrypt_message(body, args.get("msg_signature", ""),
                                         args.get("timestamp", ""), args.get("nonce", ""))
            return xml, Envelope(crypto)
        except InvalidSignatureException as exc:
            # msg_signature covers the ciphertext and does not depend on the key: no retry.
            raise BadPush("bad msg_signature") from exc
        except Exception as exc:  # wrong AppID, bad base64, bad padding, garbage after decrypt
            error = exc
    raise BadPush(f"cannot decrypt: {type(error).__name__}")


def parse(xml: str):
    """A wechatpy message object; anything that is not a well-formed push raises BadPush."""
    if _DOCTYPE.search(xml):
        raise BadPush("DTD in body")
    try:
        msg = parse_message(xml)
        # Fields are read lazily: a CreateTime like "abc" must fail here, not in the pipeline.
        header_ok = msg is not None and _header_ok(raw(msg))
    except Exception as exc:  # ExpatError, entities disabled, TypeError on empty <xml/>, bad ints
        raise BadPush(f"unparseable: {type(exc).__name__}") from exc
    if not header_ok:
        raise BadPush("missing or malformed header fields")
    if isinstance(msg, SubscribeScanProductEvent):
        # A follow from a product's page (Event subscribe, EventKey "scanbarcode|…" or
        # "scanimage|…") is a follow like any other (§3.3); wechatpy renames the event, which
        # would route it nowhere. The EventKey stays as sent (bot.qr.scene reads no code in it).
        raw(msg)["Event"] = "subscribe"
        msg = SubscribeEvent(raw(msg))
    return msg


def _header_ok(data: dict) -> bool:
    """§3.1 header: text ToUserName/FromUserName/MsgType, CreateTime in integer seconds."""
    texts = [data.get(name) for name in ("ToUserName", "FromUserName", "MsgType")]
    if not all(isinstance(t, str) and t for t in texts) or len(data["FromUserName"]) > OPENID_MAX:
        return False
    if not _ascii_digits(data.get("CreateTime")):
        return False
    # MsgId is a 64-bit integer (§3.1); anything else there (text, elements) is no push of WeChat's.
    if "MsgId" in data and not _ascii_digits(data["MsgId"]):
        return False
    datetime.fromtimestamp(int(data["CreateTime"]), timezone.utc)   # OverflowError when absurd
    return True


def _ascii_digits(value) -> bool:
    """A decimal integer as WeChat writes one (str.isdigit also takes "²" and "１２３")."""
    return isinstance(value, str) and _DIGITS.fullmatch(value) is not None


def raw(msg) -> dict:
    """The push's fields as WeChat sent them (wechatpy keeps them on the message)."""
    return msg._data


def kind(msg) -> str:
    """Our name for the push: the message type, or the event name for events."""
    if isinstance(msg, UnknownMessage):
        data = raw(msg)
        event = data.get("Event")
        return f"event:{event}" if data.get("MsgType") == "event" else f"unknown:{data.get('MsgType')}"
    if msg.type != "event":
        return msg.type
    # wechatpy names the reported-location event "location", like the location message.
    return "location_report" if msg.event == "location" else msg.event


def fingerprint(msg) -> str:
    """What makes a push unique across WeChat's retries (§2): MsgId, else sender+time+event+key.
    The sender is part of both: a retry's cached reply must never reach somebody else."""
    data = raw(msg)
    if data.get("MsgId"):
        return f"m:{data['FromUserName']}:{data['MsgId']}"
    return "e:{0}:{1}:{2}:{3}".format(data.get("FromUserName"), data.get("CreateTime"),
                                      data.get("Event", data.get("MsgType")), data.get("EventKey", ""))


def clean_text(text: str) -> str:
    """Drop characters XML 1.0 forbids; wechatpy then escapes `]]>` by splitting the CDATA."""
    return _XML_ILLEGAL.sub("", text)


def split_text(text: str, limit: int = TEXT_LIMIT_BYTES) -> list[str]:
    """Cut text into pieces of at most `limit` UTF-8 bytes, at line breaks where possible."""
    text = clean_text(text)
    pieces: list[str] = []
    while len(text.encode()) > limit:
        cut = len(text.encode()[:limit].decode("utf-8", "ignore"))
        newline = text.rfind("\n", 0, cut)
        if newline > cut // 2:
            cut = newline + 1
        piece, text = text[:cut].rstrip("\n"), text[cut:]
        if piece:                   # a run of line breaks at a cut is not a message of its own
            pieces.append(piece)
    if text.strip("\n") or not pieces:
        pieces.append(text)
    return pieces


def cdata_text(text: str) -> str:
    """Text ready to sit inside wechatpy's CDATA: legal XML characters, `]]>` split in two (§7.6).

    wechatpy writes <![CDATA[text]]> without escaping; a `]]>` in the text would end the section
    early, so it becomes `]]]]><![CDATA[>`, which an XML parser reads back as the same text.
    """
    return clean_text(text).replace("]]>", "]]]]><![CDATA[>")


def render_text(msg, text: str) -> str:
    """A passive text reply to `msg` (the caller keeps it under TEXT_LIMIT_BYTES)."""
    return TextReply(message=msg, content=cdata_text(text)).render()


def render_article(msg, article: dict[str, str]) -> str:
    """A news reply of one article: title, description, image, url (a message reply carries one
    article, §3.4; wechatpy would allow 10)."""
    clean = {k: cdata_text(article.get(k, "")) for k in ("title", "description", "image", "url")}
    return ArticlesReply(message=msg, articles=[clean]).render()


def render_transfer(msg, kf_account: str) -> str:
    """transfer_customer_service to one kf account (§3.4, §4.10). wechatpy's reply has no
    TransInfo (WECHAT-PLATFORM.md, wechatpy pitfalls), so the designation is added here."""
    xml = TransferCustomerServiceReply(message=msg).render()
    if not kf_account:
        return xml
    trans = f"<TransInfo><KfAccount><![CDATA[{cdata_text(kf_account)}]]></KfAccount></TransInfo>"
    head, _, _ = xml.rpartition("</xml>")
    return f"{head}{trans}</xml>"
