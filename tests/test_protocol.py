"""The wire (WECHAT-PLATFORM.md §1, §7, §8): handshake, the official vectors, the three modes,
sanitised and split replies, key rotation, and the pure text helpers."""
import re
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest
import xmltodict
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werobot.crypto import MessageCrypt

from bot.protocol import TEXT_LIMIT_BYTES, cdata_text, clean_text, split_text
from bot.sandbox.phone import MODES, Phone, sandbox_openid, signature
from handlers.common import FALLBACK, UNKNOWN_MENU
from models import Event, KeywordReply, OutboundMessage
from models.keyword import EXACT
from models.outbound import PENDING
from tests.conftest import WELCOME

# §8 V0 / V1: Tencent's sample account and push.
TOKEN, APPID, AES_KEY = "spamtest", "wx2c2769f8efd9abc2", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TIMESTAMP, NONCE, ECHOSTR = "1409735669", "1320562132", "shr5ch"
V0_SIGNATURE = "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a"
MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
SENDER, GH = "oyORnuP8q7ou2gfYjqLzSIWZf0rs", "gh_10f6c3c3ac5a"
ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHF"
    "VAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVti"
    "cbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpA"
    "e+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCu"
    "mEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=")
V1_BODY = {
    "compat": f"<xml><ToUserName><![CDATA[{GH}]]></ToUserName><FromUserName><![CDATA[{SENDER}]]></FromUserName>"
              "<CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[abcdteT]]>"
              f"</Content><MsgId>6054768590064713728</MsgId><Encrypt><![CDATA[{ENCRYPT}]]></Encrypt></xml>",
    "safe": f"<xml><ToUserName><![CDATA[{GH}]]></ToUserName><Encrypt><![CDATA[{ENCRYPT}]]></Encrypt></xml>",
}
V1_QUERY = dict(signature=V0_SIGNATURE, timestamp=TIMESTAMP, nonce=NONCE, encrypt_type="aes",
                msg_signature=MSG_SIGNATURE, openid=SENDER)
AAAAA = dict(slug="aaaaa", token="AAAAA", appid="wxaaaaa000000000", aes_key=None, original_id="gh_aaaaa")


def count(app, model, **where) -> int:
    with app.extensions["db"]() as s:
        return s.scalar(select(func.count()).select_from(model).filter_by(**where))


def add_keyword(db, account, keyword, reply):
    db.add(KeywordReply(account_id=account.id, keyword=keyword, match=EXACT, reply=reply))
    db.commit()


# --- GET handshake (§1.2, §8 V0) ----------------------------------------------------------------

@pytest.mark.parametrize("fields, timestamp, nonce, sig", [
    ({}, TIMESTAMP, NONCE, V0_SIGNATURE),
    (AAAAA, "1714037059", "486452656", "899cf89e464efb63f54ddac96b0a0a235f53aa78"),
], ids=["spamtest", "AAAAA"])
def test_handshake_echoes_echostr_verbatim_for_official_vectors(app, make_account, fields, timestamp, nonce,
                                                               sig):
    """§1.2/§8 V0: a correct signature gets `echostr` back as the whole plain-text body."""
    account = make_account(**fields)
    query = dict(signature=sig, timestamp=timestamp, nonce=nonce, echostr=ECHOSTR)
    response = app.test_client().get(f"/wechat/{account.slug}", query_string=query)
    assert (response.status_code, response.data, response.mimetype) == (200, b"shr5ch", "text/plain")


def test_handshake_with_a_wrong_signature_is_refused(app, account):
    """§1.2: a signature that is not SHA-1(sorted token, timestamp, nonce) gets a 403, no echo."""
    query = dict(signature=V0_SIGNATURE[:-1] + "b", timestamp=TIMESTAMP, nonce=NONCE, echostr=ECHOSTR)
    response = app.test_client().get("/wechat/hq", query_string=query)
    assert response.status_code == 403 and ECHOSTR.encode() not in response.data


def test_handshake_for_an_unknown_account_is_404(app, account):
    """§1.1: one URL per account; a slug we do not serve is a 404 even with a valid signature."""
    query = dict(signature=V0_SIGNATURE, timestamp=TIMESTAMP, nonce=NONCE, echostr=ECHOSTR)
    assert app.test_client().get("/wechat/nobody", query_string=query).status_code == 404


# --- the official encrypted push (§8 V1) ----------------------------------------------------------

@pytest.mark.parametrize("mode", ["compat", "safe"])
def test_official_encrypted_sample_is_decrypted_and_answered_encrypted(app, account, mode):
    """§8 V1, §1.6: the sample opens and its reply is an envelope werobot verifies and decrypts."""
    # The vector's timestamp is from 2014: no freshness window is documented (§1), none is enforced.
    response = app.test_client().post("/wechat/hq", query_string=V1_QUERY, data=V1_BODY[mode])
    assert response.status_code == 200
    envelope = xmltodict.parse(response.data)["xml"]
    assert set(envelope) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert envelope["MsgSignature"] == signature(TOKEN, envelope["TimeStamp"], envelope["Nonce"],
                                                 envelope["Encrypt"])
    plain = MessageCrypt(TOKEN, AES_KEY, APPID).decrypt_message(
        envelope["TimeStamp"], envelope["Nonce"], envelope["MsgSignature"], envelope["Encrypt"])
    reply = xmltodict.parse(plain)["xml"]
    assert (reply["ToUserName"], reply["FromUserName"], reply["MsgType"]) == (SENDER, GH, "text")
    assert reply["Content"] == FALLBACK
    with app.extensions["db"]() as s:
        event = s.scalars(select(Event)).one()
    assert (event.openid, event.type, event.msg_id) == (SENDER, "text", 6054768590064713728)
    assert event.data["Content"] == "abcdteT" and event.sent_at.timestamp() == 1409735668


# --- round trips in every mode (§1.3, §1.4) -------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("act, expected", [
    (lambda p: p.text("你好"), FALLBACK),
    (lambda p: p.follow(), WELCOME),
    (lambda p: p.click("NOT_A_FEATURE_YET"), UNKNOWN_MENU),
], ids=["text", "follow", "click"])
def test_reply_comes_back_in_the_mode_of_the_push(phone, account, mode, act, expected):
    """§1.3: plaintext push → plaintext XML reply; aes push → encrypted envelope, same content."""
    person = phone("carol", mode)
    assert act(person) == expected
    outer = xmltodict.parse(person.last.body)["xml"]
    assert ("Encrypt" in outer) == (mode != "plain")
    assert ("Content" in outer) == (mode == "plain")
    assert (person.last.fields["ToUserName"], person.last.fields["FromUserName"]) == (person.openid, GH)


@pytest.mark.parametrize("mode, body", [("plain", b"success"), ("compat", b""), ("safe", b"")])
def test_push_without_a_reply_is_acknowledged_per_mode(phone, account, mode, body):
    """§2: no reply → `success` in plaintext, an empty body in AES mode (no encrypted "success")."""
    person = phone("dan", mode)
    assert person.scan("poster-7") is None
    assert (person.last.status, person.last.body) == (200, body)


# --- reply sanitisation and length (§7.5, §7.6) ---------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_keyword_reply_with_cdata_end_and_control_characters_parses(phone, db, account, mode):
    """§7.6: `]]>` survives intact, XML-illegal controls are dropped, the reply is valid XML."""
    # PostgreSQL text cannot hold NUL: \x00 is covered by the clean_text/cdata_text tests below.
    add_keyword(db, account, "符号", "开始]]>中\x0b间\x08的\x1b文\ufffe字\n第二行\t完")
    person = phone("erin", mode)
    assert person.text("符号") == "开始]]>中间的文字\n第二行\t完"
    if mode == "plain":
        assert ET.fromstring(person.last.body).findtext("Content") == "开始]]>中间的文字\n第二行\t完"


def test_text_that_looks_like_a_dtd_is_just_text(wx, db, account):
    """§3.2: a person may send "<!DOCTYPE html>"; inside CDATA it is content, not a DTD."""
    add_keyword(db, account, "<!DOCTYPE html>", "这是网页代码")
    assert wx.text("<!DOCTYPE html>") == "这是网页代码"


@pytest.mark.parametrize("mode", MODES)
def test_long_keyword_reply_is_split_and_nothing_is_lost(phone, db, app, jobs, account, mode):
    """§7.5: over 2048 bytes the first piece is the passive reply, the rest waits as pending rows."""
    reply = "\n".join(f"第{i:03d}行：欢迎来到总部服务号，今天也请多多关照🙂" for i in range(120))
    assert len(reply.encode()) > 3 * TEXT_LIMIT_BYTES
    add_keyword(db, account, "长文", reply)
    person = phone("frank", mode)
    first = person.text("长文")
    with app.extensions["db"]() as s:
        rest = list(s.scalars(select(OutboundMessage.content).where(
            OutboundMessage.openid == person.openid, OutboundMessage.status == PENDING)
            .order_by(OutboundMessage.id)))
    assert first and rest and "\n".join([first, *rest]) == reply
    assert all(len(piece.encode()) <= TEXT_LIMIT_BYTES for piece in [first, *rest])
    assert "workers.messaging.deliver_pending" in jobs.queued()


# --- EncodingAESKey rotation (§1.7) ---------------------------------------------------------------

NEW_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"


@pytest.mark.parametrize("mode", ["compat", "safe"])
def test_push_sealed_with_the_previous_key_still_opens(app, db, world, clock, account, mode):
    """§1.7: after a rotation both keys open pushes; each reply is sealed with the key that worked."""
    account.previous_aes_key, account.aes_key = account.aes_key, NEW_KEY
    db.commit()

    def person(key):
        seen_as = SimpleNamespace(slug="hq", token=TOKEN, appid=APPID, aes_key=key, original_id=GH)
        post = lambda path, query, body: (lambda r: (r.status_code, r.data))(
            app.test_client().post(path, query_string=query, data=body))
        return Phone(post, seen_as, sandbox_openid("hq", "gina"), mode, world, clock)

    assert person(AES_KEY).text("旧密钥") == FALLBACK
    assert person(NEW_KEY).text("新密钥") == FALLBACK
    stranger = person("0" * 43)
    assert stranger.text("别的密钥") is None and stranger.last.status == 400
    assert count(app, Event) == 2


# --- pure helpers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["汉" * 1000, "🙂" * 600, "a" + "🙂" * 600, "ab" + "汉字🙂" * 300])
def test_split_text_never_cuts_a_character(text):
    """§7.5: pieces stay within 2048 bytes, cut between characters, and join back to the text."""
    pieces = split_text(text)
    assert len(pieces) > 1 and "".join(pieces) == text
    assert all(0 < len(p.encode()) <= TEXT_LIMIT_BYTES for p in pieces)
    assert len(pieces[0].encode()) > TEXT_LIMIT_BYTES - 4       # as full as a character allows


def test_split_text_prefers_line_breaks_and_drops_them_at_the_cut():
    """§7.5: a cut lands after the last line break in the second half, which is not repeated."""
    text = "一" * 500 + "\n" + "二" * 500
    assert split_text(text) == ["一" * 500, "二" * 500]


ALPHABET = st.sampled_from(["a", "Z", " ", "\n", "\t", "汉", "字", "é", "🙂", "\x00", "\x1b", "\ufffe"])


@settings(max_examples=300, deadline=None)
@given(text=st.lists(ALPHABET, max_size=300).map("".join), limit=st.integers(4, 64))
@example(text="\n\n汉", limit=4)
@example(text="abcd\n\n\n\n\n", limit=4)
def test_split_text_property(text, limit):
    """§7.5: every piece fits and says something; only illegal characters and line breaks at cuts go."""
    pieces = split_text(text, limit)
    clean = clean_text(text)
    assert all(len(p.encode()) <= limit for p in pieces)
    assert re.fullmatch("\n*" + "\n*".join(map(re.escape, pieces)) + "\n*", clean)
    if clean.strip("\n"):
        assert all(p.strip("\n") for p in pieces)
    if "\n" not in clean:
        assert "".join(pieces) == clean


@settings(max_examples=300, deadline=None)
@given(text=st.lists(st.characters() | st.sampled_from(["]]>", "]", ">", "\x00", "\ud800", "\r"]))
       .map("".join))
def test_cdata_text_always_reads_back_as_the_clean_text(text):
    """§7.6: whatever a person or keyword contains, the CDATA parses and reads back unchanged."""
    parsed = ET.fromstring(f"<x><![CDATA[{cdata_text(text)}]]></x>".encode()).text or ""
    assert parsed == clean_text(text).replace("\r\n", "\n").replace("\r", "\n")


def test_clean_text_keeps_layout_and_drops_what_xml_forbids():
    """§7.6: tab, LF, CR, CJK and emoji stay; other C0 controls, surrogates, U+FFFE/U+FFFF go."""
    assert clean_text("a\tb\nc\rd汉🙂") == "a\tb\nc\rd汉🙂"
    assert clean_text("x\x00\x08\x0b\x0c\x0e\x1b\x1f\ud800\ufffe\uffffy") == "xy"
