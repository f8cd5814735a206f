"""What the points tests share: the booking system's signing and a purchase rules file (the
`api`, `make_member`, `alice` fixtures in conftest.py use them). No tests here."""
import hashlib
import hmac
import json

SECRET = "k" * 64
PHONE = "13800000000"
RULES = """\
levels:
  tiers:
    - {code: registered, name: 注册会员, growth: 0}
    - {code: silver, name: 银牌会员, growth: 1000}
rules:
  - id: purchase
    trigger: purchase
    points: {per: 10, award: 1}      # every full 10 yuan: 1 point
    growth: {per: 1, award: 1}       # every full yuan: 1 growth
    multipliers:
      level: {silver: 1.5}
      payment: {wechat: 2}
"""


def signed_post(client, path: str, body, name: str, secret: str, ts: int):
    """POST `body` (a dict, or raw bytes) signed as the booking system signs it."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    signature = hmac.new(secret.encode(), f"{ts}.".encode() + raw, hashlib.sha256).hexdigest()
    return client.post(path, data=raw, content_type="application/json",
                       headers={"X-Integration": name, "X-Timestamp": str(ts), "X-Signature": signature})
