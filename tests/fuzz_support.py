"""Hypothesis strategies for pushes WeChat could send (valid ones, in every XML shape WeChat
and its proxies produce) and for what a broken client or an attacker could send instead.

A valid push follows WECHAT-PLATFORM.md §3.1-§3.3: the header, one of the message types or
events with its fields, any text a person can type in them (every XML 1.0 character, `]]>`
included, split across CDATA sections as WeChat's own serializer does), CDATA or escaped text,
any order after the header, any whitespace between elements, an XML declaration or none.
"""
import base64
import itertools
import re
import struct
from xml.sax.saxutils import escape

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import strategies as st

from bot.sandbox.phone import signature

# XML 1.0 characters (§7.6): what a text field can carry. Surrogates cannot be encoded at all.
_XML_CHAR = st.characters(blacklist_categories=("Cs",),
                          blacklist_characters="".join(map(chr, [*range(0x09), 0x0B, 0x0C,
                                                                 *range(0x0E, 0x20), 0xFFFE, 0xFFFF])))
TEXT = st.one_of(
    st.text(_XML_CHAR, max_size=40),
    st.sampled_from(["", " ", "]]>", "<xml>", "&amp;", "你好", "😀" * 3, "\r\n", "a]]>b]]>", "<![CDATA[x"]),
    # Sizes: a long message (a person may paste 2 000 characters; WeChat caps input near that).
    st.tuples(st.sampled_from(["长", "a", "😀", "]]>"]), st.integers(100, 2000)).map(lambda t: t[0] * t[1]),
)
_ids = itertools.count(1)
OPENID = st.from_regex(r"\Ao[A-Za-z0-9_-]{27}\Z")
NUMBER = st.one_of(st.integers(-90, 180).map(str), st.floats(-180, 180, allow_nan=False).map(lambda f: f"{f:.6f}"))


def fresh_id() -> int:
    """A MsgId no other example used (WeChat's are unique; a reused one is a retry, §2)."""
    return 7_200_000_000_000_000_000 + next(_ids)


def _fields(**extra):
    return st.fixed_dictionaries(extra)


MESSAGES = {
    "text": _fields(Content=TEXT),
    "image": _fields(PicUrl=TEXT, MediaId=TEXT),
    "voice": _fields(MediaId=TEXT, Format=st.sampled_from(["amr", "speex"]), Recognition=TEXT),
    "video": _fields(MediaId=TEXT, ThumbMediaId=TEXT),
    "shortvideo": _fields(MediaId=TEXT, ThumbMediaId=TEXT),
    "location": _fields(Location_X=NUMBER, Location_Y=NUMBER, Scale=st.integers(1, 20).map(str), Label=TEXT),
    "link": _fields(Title=TEXT, Description=TEXT, Url=TEXT),
    "file": _fields(Title=TEXT, Description=TEXT, FileKey=TEXT),
    "miniprogrampage": _fields(Title=TEXT, AppId=TEXT, PagePath=TEXT, ThumbUrl=TEXT),
}
_SCAN_INFO = st.builds(lambda t, r: f"<ScanCodeInfo><ScanType>{t}</ScanType><ScanResult>{r}</ScanResult>"
                       "</ScanCodeInfo>", st.sampled_from(["qrcode", "barcode"]), TEXT.map(escape))
_PICS = st.integers(0, 3).map(lambda n: f"<SendPicsInfo><Count>{n}</Count><PicList>"
                              + "".join(f"<item><PicMd5Sum>{i:032x}</PicMd5Sum></item>" for i in range(n))
                              + "</PicList></SendPicsInfo>")
_LOC_INFO = st.builds(lambda x, y, label: f"<SendLocationInfo><Location_X>{x}</Location_X><Location_Y>{y}"
                      f"</Location_Y><Scale>15</Scale><Label>{label}</Label><Poiname></Poiname>"
                      "</SendLocationInfo>", NUMBER, NUMBER, TEXT.map(escape))
EVENTS = {
    "subscribe": _fields(),
    "subscribe:qr": _fields(EventKey=TEXT.map(lambda s: "qrscene_" + s), Ticket=TEXT),
    "subscribe:barcode": _fields(EventKey=st.builds("scanbarcode|{}|{}".format, TEXT, TEXT)),
    "unsubscribe": _fields(),
    "SCAN": _fields(EventKey=TEXT, Ticket=TEXT),
    "CLICK": _fields(EventKey=st.one_of(TEXT, st.sampled_from(["MY_POINTS", "BIND_PHONE", "HELP"]))),
    "VIEW": _fields(EventKey=TEXT, MenuId=st.integers(0, 10**9).map(str)),
    "LOCATION": _fields(Latitude=NUMBER, Longitude=NUMBER, Precision=NUMBER),
    "scancode_push": _fields(EventKey=TEXT, raw=_SCAN_INFO),
    "scancode_waitmsg": _fields(EventKey=TEXT, raw=_SCAN_INFO),
    "pic_sysphoto": _fields(EventKey=TEXT, raw=_PICS),
    "location_select": _fields(EventKey=TEXT, raw=_LOC_INFO),
    "TEMPLATESENDJOBFINISH": _fields(MsgID=st.integers(0, 2**40).map(str),
                                     Status=st.sampled_from(["success", "failed:user block"])),
    "MASSSENDJOBFINISH": _fields(MsgID=st.integers(0, 2**40).map(str), Status=st.just("sendsuccess"),
                                 TotalCount=st.just("10"), SentCount=st.just("9")),
    "kf_create_session": _fields(KfAccount=TEXT),
    "kf_close_session": _fields(KfAccount=TEXT),
    "kf_switch_session": _fields(FromKfAccount=TEXT, ToKfAccount=TEXT),
    "subscribe_msg_popup_event": _fields(),
}


def cdata(text: str) -> str:
    """Text as WeChat writes it: one CDATA section, `]]>` split across two (§7.6)."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@st.composite
def valid_push(draw, original_id: str) -> tuple[str, str, str]:
    """(XML, openid, kind label): a push WeChat could send to the account `original_id`."""
    # Unique per example, or an event repeating an earlier example's sender and time would be a retry (§2).
    openid = draw(OPENID)[:12] + f"{fresh_id() % 10**16:016d}"
    is_event = draw(st.booleans())
    label = draw(st.sampled_from(sorted(EVENTS if is_event else MESSAGES)))
    fields = dict(draw((EVENTS if is_event else MESSAGES)[label]))
    nested = fields.pop("raw", "")
    head = {"ToUserName": original_id, "FromUserName": openid, "CreateTime": str(draw(st.integers(1, 2**31)))}
    if is_event:
        body = {"MsgType": "event", "Event": label.split(":")[0], **fields}
    else:
        body = {"MsgType": label, **fields, "MsgId": str(fresh_id())}
    items = list(body.items())
    items = draw(st.permutations(items)) if draw(st.booleans()) else items
    gap = draw(st.sampled_from(["", "\n", "\n  ", " "]))
    parts = []
    for name, value in [*head.items(), *items]:
        as_cdata = name not in ("CreateTime", "MsgId") and draw(st.booleans())
        parts.append(f"<{name}>{cdata(value) if as_cdata else escape(value)}</{name}>")
    if nested:
        parts.append(nested)
    prolog = draw(st.sampled_from(["", '<?xml version="1.0" encoding="UTF-8"?>', "<?xml version='1.0'?>\n"]))
    return prolog + "<xml>" + gap + gap.join(parts) + gap + "</xml>", openid, label


# What can go wrong with a body: a broken client, a proxy, an attacker (never WeChat itself).
def _cut(xml: str, at: int) -> str:
    return xml[: at % max(len(xml), 1)]


def _swap(xml: str, name: str, value: str) -> str:
    return re.sub(rf"<{name}>.*?</{name}>", lambda _: f"<{name}>{value}</{name}>", xml, count=1, flags=re.S)


def _drop(xml: str, name: str) -> str:
    return re.sub(rf"<{name}>.*?</{name}>", "", xml, count=1, flags=re.S)


HEADER = st.sampled_from(["ToUserName", "FromUserName", "CreateTime", "MsgType", "MsgId", "Event", "EventKey",
                          "Content"])
JUNK = st.one_of(st.text(max_size=30), st.sampled_from([
    "<a>1</a>", "<![CDATA[]]>", "", "-1", "1.5", "0x10", "１２３", "9" * 30, "<xml><xml/></xml>", "&lt;", "&#0;",
    "&#xD800;", "&xxe;", "\x00", "]]>"]))
MUTATION = st.one_of(
    st.tuples(st.just("cut"), st.integers(0, 10**6)),
    st.tuples(st.just("swap"), HEADER, JUNK),
    st.tuples(st.just("drop"), HEADER),
    st.tuples(st.just("double"), HEADER),
    st.tuples(st.just("insert"), st.integers(0, 10**6), JUNK),
    st.tuples(st.just("encoding"), st.sampled_from(["utf-16", "utf-16-le", "gbk", "latin-1", "bom", "declared-gbk",
                                                    "declared-ascii"])),
)


def mutate(xml: str, mutation: tuple) -> bytes:
    """The push `xml` broken in one way, as the bytes that go on the wire (or into the envelope)."""
    how, *args = mutation
    if how == "cut":
        return _cut(xml, args[0]).encode()
    if how == "swap":
        return _swap(xml, args[0], args[1]).encode("utf-8", "surrogatepass")
    if how == "drop":
        return _drop(xml, args[0]).encode()
    if how == "double":
        found = re.search(rf"<{args[0]}>.*?</{args[0]}>", xml, flags=re.S)
        return (xml.replace("</xml>", found.group(0) + "</xml>") if found else xml).encode()
    if how == "insert":
        at = args[0] % (len(xml) + 1)
        return (xml[:at] + args[1] + xml[at:]).encode("utf-8", "surrogatepass")
    encoding = args[0]
    if encoding == "bom":
        return b"\xef\xbb\xbf" + xml.encode()
    if encoding.startswith("declared-"):
        declared = '<?xml version="1.0" encoding="%s"?>' % encoding.split("-", 1)[1]
        return (declared + re.sub(r"\A<\?xml.*?\?>", "", xml)).encode()
    return xml.encode(encoding, "replace")


def seal(account, mode: str, inner: bytes, timestamp: str, nonce: str) -> tuple[dict, bytes]:
    """(query, body) for plaintext bytes `inner` in `mode`, signed (and encrypted) as WeChat does
    (§1.3-§1.5), whatever `inner` holds: the webhook must find out for itself that it is broken."""
    query = {"signature": signature(account.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    if mode == "plain":
        return query, inner
    key = base64.b64decode(account.aes_key + "=")
    framed = b"0123456789abcdef" + struct.pack(">I", len(inner)) + inner + account.appid.encode()
    n = 32 - len(framed) % 32
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    encrypt = base64.b64encode(encryptor.update(framed + bytes([n]) * n) + encryptor.finalize()).decode()
    query.update(encrypt_type="aes", msg_signature=signature(account.token, timestamp, nonce, encrypt))
    envelope = f"<Encrypt><![CDATA[{encrypt}]]></Encrypt>"
    if mode == "safe":
        return query, f"<xml><ToUserName><![CDATA[{account.original_id}]]></ToUserName>{envelope}</xml>".encode()
    # Compatible mode: the plaintext fields and the Encrypt beside them (§1.4).
    return query, inner.replace(b"</xml>", envelope.encode() + b"</xml>") if b"</xml>" in inner \
        else inner + envelope.encode()
