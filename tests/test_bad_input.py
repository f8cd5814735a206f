"""Malformed pushes (WECHAT-PLATFORM.md §1, §6.1, §7.9, §8 "Negative cases"): each gets its status
code, never a 500 that WeChat would retry, and leaves nothing behind: no event, no fan, no dedup
key, so the genuine push still gets its normal reply afterwards."""
import base64
import json
import re
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import func, select

from bot.sandbox.phone import signature
from handlers.common import FALLBACK
from models import Event, Fan, OutboundMessage

TOKEN, APPID, AES_KEY = "spamtest", "wx2c2769f8efd9abc2", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OTHER_KEY = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
MSG_ID = 7_100_000_000_000_000_001
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "lol">'
          + "".join(f'<!ENTITY {b} "{("&" + a + ";") * 10}">' for a, b in zip("abcdefgh", "bcdefghi")) + "]>")
XXE = '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def good(wx, msg_id) -> str:
    return wx.xml({"MsgType": "text", "Content": "你好", "MsgId": msg_id})


def edited(pattern: str, replacement: str, prefix: str = ""):
    """The genuine push with one regex edit (and something put before it)."""
    return lambda wx, mid: prefix + re.sub(pattern, replacement, good(wx, mid), count=1)


def with_entity(name: str, dtd: str):
    """The genuine push behind `dtd`, its Content a reference to entity `name`."""
    return edited(r"<Content>.*?</Content>", f"<Content>&{name};</Content>", dtd)


def signed(make_xml=good, slug="hq", body: bytes | None = None, **query):
    """`make_xml` signed (and sealed, per the phone's mode); then `body` and `query` swapped in."""
    def build(wx, mid):
        q, sealed_body = wx.wrap(make_xml(wx, mid))
        return slug, {**q, **query}, sealed_body if body is None else body
    return build


def frame(xml: str, appid: str = APPID) -> bytes:
    """§1.5 plaintext layout: 16 random bytes, big-endian length, XML, AppID (padding not yet)."""
    return b"0123456789abcdef" + struct.pack(">I", len(xml.encode())) + xml.encode() + appid.encode()


def pad(data: bytes, how: str = "ok") -> bytes:
    n = 32 - len(data) % 32
    return data + {"ok": bytes([n]) * n, "zero": b"\x00" * n, "over32": bytes([n + 32]) * (n + 32),
                   "mixed": bytes([n ^ 1]) + bytes([n]) * (n - 1)}[how]


def aes(data: bytes, key: str = AES_KEY) -> str:
    raw_key = base64.b64decode(key + "=")
    encryptor = Cipher(algorithms.AES(raw_key), modes.CBC(raw_key[:16])).encryptor()
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode()


def sealed(make_encrypt, outer: str = "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>{}</xml>"):
    """A safe-mode envelope around a hand-made Encrypt, with a valid signature and msg_signature."""
    def build(wx, mid):
        encrypt, ts, nonce = make_encrypt(wx, mid), "1409735669", "1320562132"
        q = dict(signature=signature(TOKEN, ts, nonce), timestamp=ts, nonce=nonce, openid=wx.openid,
                 encrypt_type="aes", msg_signature=signature(TOKEN, ts, nonce, encrypt))
        return "hq", q, outer.format(f"<Encrypt><![CDATA[{encrypt}]]></Encrypt>").encode()
    return build


def cipher(how="ok", appid=APPID, key=AES_KEY, cut=None):
    return lambda wx, mid: aes(pad(frame(good(wx, mid), appid), how), key)[:cut]


REFUSED = [
    ("bad signature", "plain", signed(signature="0" * 40), 403),
    ("no signature", "plain", signed(signature=""), 403),
    ("non-ASCII signature", "plain", signed(signature="签名"), 403),
    ("bad msg_signature", "safe", signed(msg_signature="0" * 40), 400),
    ("no msg_signature", "compat", signed(msg_signature=""), 400),
    ("ciphertext for another AppID", "safe", sealed(cipher(appid="wx0000000000000000")), 400),
    ("ciphertext under an unknown key", "safe", sealed(cipher(key=OTHER_KEY)), 400),
    ("truncated base64", "safe", sealed(cipher(cut=-3)), 400),
    ("base64 cut mid AES block", "safe", sealed(cipher(cut=100)), 400),
    ("padding byte 0", "safe", sealed(cipher("zero")), 400),
    ("padding byte over 32", "safe", sealed(cipher("over32")), 400),
    ("padding bytes disagree", "safe", sealed(cipher("mixed")), 400),
    ("billion laughs", "plain", signed(with_entity("i", LAUGHS)), 400),
    ("XXE entity", "plain", signed(with_entity("xxe", XXE)), 400),
    ("external DTD", "plain", signed(edited("", "", '<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/d">')), 400),
    ("DTD inside the ciphertext", "safe", signed(with_entity("i", LAUGHS)), 400),
    ("entity in the safe envelope", "safe",
     sealed(cipher(), XXE + "<xml><ToUserName>&xxe;</ToUserName>{}</xml>"), 400),
    ("body over 1 MB", "plain", signed(lambda wx, mid: wx.xml({"MsgType": "text", "Content": "长" * 400_000,
                                                                 "MsgId": mid})), 413),
    ("empty body", "plain", signed(body=b""), 400),
    ("empty body, aes", "safe", signed(body=b""), 400),
    ("not XML", "plain", signed(body=b"hello"), 400),
    ("JSON body", "plain", signed(body=json.dumps({"ToUserName": "gh", "MsgType": "text"}).encode()), 400),
    ("root is not <xml>", "plain", signed(lambda wx, mid: good(wx, mid).replace("xml>", "msg>")), 400),
    ("no FromUserName", "plain", signed(edited(r"<FromUserName>.*?</FromUserName>", "")), 400),
    ("no MsgType", "plain", signed(edited(r"<MsgType>.*?</MsgType>", "")), 400),
    ("no CreateTime", "plain", signed(edited(r"<CreateTime>.*?</CreateTime>", "")), 400),
    ("CreateTime not a number", "plain", signed(edited(r"<CreateTime>", "<CreateTime>x")), 400),
    ("CreateTime in full-width digits", "plain", signed(edited(r"<CreateTime>\d+", "<CreateTime>１２３")), 400),
    ("MsgId not a number", "plain", signed(edited(r"<MsgId>\d+", "<MsgId>-1")), 400),
    ("MsgId with elements", "safe", signed(edited(r"<MsgId>\d+</MsgId>", "<MsgId><a>1</a></MsgId>")), 400),
    ("CreateTime past any date", "plain", signed(edited(r"<CreateTime>", "<CreateTime>99999999999")), 400),
    ("FromUserName with elements", "compat",
     signed(edited(r"<FromUserName>.*?</FromUserName>", "<FromUserName><a>1</a></FromUserName>")), 400),
    ("FromUserName not an openid", "safe",
     signed(edited(r"<FromUserName>.*?</FromUserName>", f"<FromUserName>{'o' * 65}</FromUserName>")), 400),
    ("aes without Encrypt", "safe", sealed(cipher(), "<xml><ToUserName>gh_10f6c3c3ac5a</ToUserName></xml>"),
     400),
    ("aes to an account without a key", "safe", signed(slug="plain"), 400),
    ("unknown account", "plain", signed(slug="nobody"), 404),
]


@pytest.fixture
def accounts(account, make_account):
    """HQ (with an EncodingAESKey) and a plaintext-only account sharing its token."""
    make_account(slug="plain", appid="wxplain000000000", aes_key=None, original_id="gh_plain")
    return account


def post(app, build, wx, msg_id) -> int:
    slug, query, body = build(wx, msg_id)
    return app.test_client().post(f"/wechat/{slug}", query_string=query, data=body).status_code


def count(app, model) -> int:
    with app.extensions["db"]() as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("mode, build, status", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_malformed_push_is_refused_and_leaves_nothing_behind(app, accounts, phone, jobs, mode, build, status):
    """§6.1/§7.9: 403/400/413/404, never 500; no event, fan, job or dedup key, so the retry runs."""
    wx = phone("mallory", mode)
    assert post(app, build, wx, MSG_ID) == status
    assert [count(app, m) for m in (Event, Fan, OutboundMessage)] == [0, 0, 0] and jobs.queued() == []
    # Only WeChat's own state and the account directory (bot/directory.py): nothing of the push.
    assert [k for k in app.extensions["redis"].keys() if not k.startswith((b"sandbox:", b"account:"))] == []
    assert wx.send("text", {"Content": "你好"}, msg_id=MSG_ID).content == FALLBACK


def test_hand_built_ciphertext_with_correct_padding_is_accepted(app, accounts, phone):
    """§1.5: the padding rows above fail for their padding alone: the same framing padded right opens."""
    wx = phone("mallory", "safe")
    slug, query, body = sealed(cipher())(wx, MSG_ID)
    response = app.test_client().post(f"/wechat/{slug}", query_string=query, data=body)
    assert response.status_code == 200 and wx.unwrap(response.data)["Content"] == FALLBACK


UNUSUAL = [
    ("file", "plain", {"MsgType": "file", "Title": "报价.pdf", "MsgId": MSG_ID}, b"success", "unknown:file"),
    ("file, compat", "compat", {"MsgType": "file", "Title": "报价.pdf", "MsgId": MSG_ID}, b"", "unknown:file"),
    ("mini-program card", "plain", {"MsgType": "miniprogrampage", "Title": "小程序", "AppId": "wxmini",
                                    "PagePath": "pages/index", "MsgId": MSG_ID}, b"success",
     "miniprogrampage"),
    ("unknown event", "plain", {"MsgType": "event", "Event": "subscribe_msg_popup_event"}, b"success",
     "event:subscribe_msg_popup_event"),
    ("unknown event, safe", "safe", {"MsgType": "event", "Event": "subscribe_msg_popup_event"}, b"",
     "event:subscribe_msg_popup_event"),
]


@pytest.mark.parametrize("mode, fields, body, kind", [r[1:] for r in UNUSUAL], ids=[r[0] for r in UNUSUAL])
def test_unknown_message_or_event_gets_an_empty_200_and_is_recorded(app, accounts, phone, mode, fields, body,
                                                                    kind):
    """§3.2/§2: unknown types are acknowledged without a reply (success / empty) yet kept as an event."""
    wx = phone("pat", mode)
    reply = wx.deliver(wx.xml(fields))
    assert (reply.status, reply.body) == (200, body)
    with app.extensions["db"]() as s:
        events = s.execute(select(Event.openid, Event.type, Event.outcome)).all()
        fans = s.scalars(select(Fan.openid)).all()
    assert events == [(wx.openid, kind, "ok")] and fans == [wx.openid]


def test_plaintext_push_to_an_account_with_an_aes_key_is_answered_in_plaintext(app, accounts, wx):
    """§1.3: no encrypt_type → plaintext body and plaintext answer (compat mode accepts either)."""
    assert wx.text("你好") == FALLBACK
    assert wx.last.body.startswith(b"<xml>") and b"<Encrypt>" not in wx.last.body
    assert count(app, Event) == 1


def test_a_good_push_after_each_bad_one_still_gets_its_normal_reply(app, accounts, phone):
    """§6.1: one transcript of every malformed push above, each followed by the genuine one."""
    for i, (name, mode, build, status) in enumerate(REFUSED):
        wx = phone("trent", mode)
        assert post(app, build, wx, MSG_ID + i) == status, name
        assert wx.send("text", {"Content": "你好"}, msg_id=MSG_ID + i).content == FALLBACK, name
    assert count(app, Event) == len(REFUSED)
