"""Pre-generated pushes for wrk (bench/webhook.lua), signed and encrypted by the sandbox Phone.

One request a line, "<path?query>\\t<body>". Every push is a text from one of FANS fans
(round robin) with its own MsgId; the retried file sends each push three times, the copies a
block apart so the first has been answered before its repeats arrive, as WeChat's retries are.
"""
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode

import requests

from bench.servers import ACCOUNT
from bot.sandbox.phone import Phone, sandbox_openid

CONTENT = "你好，请问怎么预订？"       # no keyword matches it: our bot answers with its fallback
FANS = 10_000      # distinct openids: in a 10 s run most pushes meet a fan for the first time,
                   # unless the scenario greets every fan first (known fans: the common path)
ACCOUNT_NS = SimpleNamespace(**ACCOUNT)


def phones(mode: str, post=None) -> list[Phone]:
    return [Phone(post, ACCOUNT_NS, sandbox_openid(ACCOUNT["slug"], f"fan{i}"), mode=mode)
            for i in range(FANS)]


def write_pushes(path: Path, mode: str, distinct: int, first_msg_id: int, repeats: int = 1,
                 block: int = 64) -> list[int]:
    """Write the file; returns the MsgId of each line (webhook.py counts what wrk sent).

    Repeats: `block` distinct pushes, then the same again, `repeats` times, then the next block.
    With `block` a multiple of wrk's T threads (thread k takes lines k, k+T, ...), a push and its
    copies go to one thread, block/T of its requests apart: make that a few times its connections."""
    fans = phones(mode)
    lines, msg_ids = [], []
    for start in range(0, distinct, block):
        chunk = []
        for n in range(start, min(start + block, distinct)):
            phone, msg_id = fans[n % FANS], first_msg_id + n
            query, body = phone.wrap(phone.xml({"MsgType": "text", "Content": CONTENT, "MsgId": msg_id}))
            assert b"\t" not in body and b"\n" not in body
            chunk.append((f"/wechat/{ACCOUNT['slug']}?{urlencode(query)}\t{body.decode()}", msg_id))
        for _ in range(repeats):
            lines += [line for line, _ in chunk]
            msg_ids += [msg_id for _, msg_id in chunk]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return msg_ids


def greet_every_fan(url: str, first_msg_id: int, threads: int = 16) -> tuple[int, float]:
    """Each fan sends one text, so the fans are known: (pushes answered 200, seconds). In
    plaintext: the fans are the same in every mode, and this client's AES would cost more than
    the pushes."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import local
    from time import monotonic
    mine = local()      # a session (kept-alive connection) per thread: Session is not thread-safe

    def post(path, query, body):
        if not hasattr(mine, "session"):
            mine.session = requests.Session()
        r = mine.session.post(url + path, params=query, data=body, timeout=10, headers={"Content-Type": "text/xml"})
        return r.status_code, r.content

    fans = phones("plain", post)
    started = monotonic()
    with ThreadPoolExecutor(threads) as pool:
        answers = pool.map(lambda n: fans[n].send("text", {"Content": CONTENT}, msg_id=first_msg_id + n).status,
                           range(FANS))
        ok = sum(1 for status in answers if status == 200)
    return ok, monotonic() - started


def sample(url: str, mode: str, msg_id: int, repeats: int = 1) -> list[tuple[int, str | None]]:
    """One push delivered `repeats` times by a Phone: (status, decrypted reply Content) each."""
    def post(path, query, body):
        r = requests.post(url + path, params=query, data=body, timeout=10,
                          headers={"Content-Type": "text/xml"})
        return r.status_code, r.content

    phone = phones(mode, post)[0]
    out = []
    for _ in range(repeats):
        reply = phone.send("text", {"Content": CONTENT}, msg_id=msg_id)
        out.append((reply.status, reply.content))
    return out
