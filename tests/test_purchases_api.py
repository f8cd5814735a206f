"""The booking system's API (issue #3, Build 5): signed purchases pay once per order, refunds
reverse in proportion, every refusal is JSON {error, message} with a stable code."""
import hashlib
import hmac
import json
import logging

import pytest
from sqlalchemy import func, select

from bot import points
from bot.points.engine import spend
from bot.points.policy import load
from bot.points.rules_file import parse
from models import Award, Fan, Integration, LedgerEntry, Member, OutboundMessage
from points_support import PHONE, SECRET

def order(order_id="A-1", amount="128.50", method="cash", **fields) -> dict:
    return {"order_id": order_id, "phone": PHONE, "amount": amount,
            "paid_at": "2026-11-23T17:30:00+08:00", "payment_method": method, **fields}


def balances(db, member: Member) -> tuple[int, int]:
    """(points, growth) as committed."""
    db.rollback()
    db.expire_all()
    row = db.get(Member, member.id)
    return row.points, row.growth


def ledger(db) -> list[tuple[str, str, int]]:
    db.rollback()
    return [(e.ledger, e.kind, e.delta) for e in db.scalars(select(LedgerEntry).order_by(LedgerEntry.id))]


def refund(api, order_id="A-1", **body):
    return api(f"/api/purchases/{order_id}/refund", {"refund_id": "R-1", **body})


def test_a_purchase_pays_once_and_a_retry_replays_it(api, db, alice):
    """Issue #3: purchase points and growth once per order; a retried call answers the same."""
    first = api("/api/purchases", order())
    assert first.status_code == 201
    assert first.json == {"order_id": "A-1", "points": 12, "growth": 128, "balance": 12, "replayed": False}
    again = api("/api/purchases", order())
    assert again.status_code == 200
    assert again.json == {"order_id": "A-1", "points": 12, "growth": 128, "balance": 12, "replayed": True}
    assert ledger(db) == [("points", "earn", 12), ("growth", "earn", 128)]
    assert balances(db, alice) == (12, 128)


@pytest.mark.parametrize("level, method, paid", [
    ("registered", "cash", (12, 128)),
    ("registered", "wechat", (24, 256)),
    ("silver", "cash", (18, 192)),
    ("silver", "wechat", (36, 384)),
])
def test_multipliers_by_level_and_payment_method(api, make_member, level, method, paid):
    """Issue #3 Build 2: the amount-based award times the member's level and the payment method."""
    make_member(level=level)
    answer = api("/api/purchases", order(method=method))
    assert answer.status_code == 201 and (answer.json["points"], answer.json["growth"]) == paid


@pytest.mark.parametrize("changed", [{"amount": "999.00"}, {"payment_method": "wechat"},
                                     {"paid_at": "2026-11-23T17:31:00+08:00"}, {"phone": "13900000000"}])
def test_the_same_order_with_other_details_is_a_duplicate(api, db, alice, make_member, changed):
    """An order id is paid once: the same id with other details is refused, nothing is paid."""
    make_member(phone="13900000000")
    api("/api/purchases", order())
    answer = api("/api/purchases", {**order(), **changed})
    assert answer.status_code == 409 and answer.json["error"] == "duplicate_order"
    assert answer.json["message"]
    assert ledger(db) == [("points", "earn", 12), ("growth", "earn", 128)]


@pytest.mark.parametrize("caller, code", [
    ({"secret": "x" * 64}, "bad_signature"),
    ({"name": "nobody"}, "unknown_integration"),
    ({"name": "retired"}, "unknown_integration"),
    ({"skew": -301}, "stale_timestamp"),
    ({"skew": 301}, "stale_timestamp"),
])
def test_unauthenticated_calls_are_refused(api, db, alice, caller, code):
    """Bad signatures, unknown or disabled integrations and stale timestamps get 401 JSON."""
    db.add(Integration(name="retired", secret=SECRET, active=False))
    db.commit()
    answer = api("/api/purchases", order(), **caller)
    assert answer.status_code == 401
    assert answer.json["error"] == code and answer.json["message"]
    assert ledger(db) == []


@pytest.mark.parametrize("skew", [-300, 300])
def test_a_timestamp_within_five_minutes_is_accepted(api, alice, skew):
    """X-Timestamp may differ from our clock by up to 300 s."""
    assert api("/api/purchases", order(), skew=skew).status_code == 201


def test_a_body_changed_after_signing_is_refused(app, api, clock, alice):
    """The signature covers the raw body: one changed byte and the call is refused."""
    raw = json.dumps(order()).encode()
    ts = int(clock.timestamp())
    signature = hmac.new(SECRET.encode(), f"{ts}.".encode() + raw, hashlib.sha256).hexdigest()
    answer = app.test_client().post("/api/purchases", data=raw.replace(b"128.50", b"928.50"),
                                    content_type="application/json",
                                    headers={"X-Integration": "booking", "X-Timestamp": str(ts),
                                             "X-Signature": signature})
    assert answer.status_code == 401 and answer.json["error"] == "bad_signature"


@pytest.mark.parametrize("body, code", [
    (b"{not json", "invalid_json"),
    (b"[1, 2]", "invalid_json"),
    ({k: v for k, v in order().items() if k != "order_id"}, "invalid_field"),
    ({k: v for k, v in order().items() if k != "amount"}, "invalid_field"),
    ({k: v for k, v in order().items() if k != "paid_at"}, "invalid_field"),
    ({k: v for k, v in order().items() if k != "payment_method"}, "invalid_field"),
    ({k: v for k, v in order().items() if k != "phone"}, "invalid_field"),
    (order(amount="12.345"), "invalid_field"),
    (order(amount=-5), "invalid_field"),
    (order(amount=0), "invalid_field"),
    (order(amount=True), "invalid_field"),
    (order(paid_at="yesterday"), "invalid_field"),
    (order(order_id="x" * 65), "invalid_field"),
])
def test_malformed_bodies_are_refused(api, db, alice, body, code):
    """Invalid JSON and missing or invalid fields get 400 with a stable code; nothing is recorded."""
    answer = api("/api/purchases", body)
    assert answer.status_code == 400
    assert answer.json["error"] == code and answer.json["message"]
    assert ledger(db) == []


def test_a_body_over_64_kib_is_413(api, db, alice):
    """bot/api.py: bodies are at most 64 KiB, refused with JSON even when signed."""
    answer = api("/api/purchases", order(note="x" * 70_000))
    assert answer.status_code == 413 and answer.json["error"] == "too_large"
    assert ledger(db) == []


def test_an_unknown_member_is_404(api, alice):
    """A phone no member has: 404 unknown_member."""
    answer = api("/api/purchases", order(phone="13999999999"))
    assert answer.status_code == 404 and answer.json["error"] == "unknown_member"


@pytest.mark.parametrize("written", ["+86 138-0000-0000", "86 13800000000", "138 0000 0000"])
def test_a_phone_is_found_however_it_is_written(api, alice, written):
    """The booking system's phone formats all name the same member."""
    assert api("/api/purchases", order(phone=written)).status_code == 201


def test_an_openid_finds_the_member_behind_the_fan(api, db, account, alice, clock):
    """Issue #3: the member may be named by the openid of a fan who is that member."""
    db.add(Fan(account_id=account.id, openid="o-alice", following=True, followed_at=clock.now(),
               member_id=alice.id))
    db.add(Fan(account_id=account.id, openid="o-stranger", following=True, followed_at=clock.now()))
    db.commit()
    body = {k: v for k, v in order().items() if k != "phone"}
    assert api("/api/purchases", {**body, "openid": "o-alice"}).status_code == 201
    assert balances(db, alice)[0] == 12
    stranger = api("/api/purchases", {**body, "order_id": "A-2", "openid": "o-stranger"})
    assert stranger.status_code == 404 and stranger.json["error"] == "unknown_member"


def test_a_half_refund_reverses_half_and_its_retry_changes_nothing(api, db, alice):
    """Issue #3 Must show: half the amount back, half the points and growth back; the same
    refund call again answers 200 replayed and changes nothing."""
    api("/api/purchases", order(amount="200.00"))
    first = refund(api, amount="100.00")
    assert first.status_code == 201
    assert first.json == {"order_id": "A-1", "refund_id": "R-1", "points_reversed": 10,
                          "growth_reversed": 100, "replayed": False}
    assert balances(db, alice) == (10, 100)
    entries = ledger(db)
    for body in ({"amount": "100.00"}, {}):          # with or without the amount
        again = refund(api, **body)
        assert again.status_code == 200 and again.json["replayed"] is True
    assert ledger(db) == entries
    assert balances(db, alice) == (10, 100)


def test_a_replayed_refund_answers_with_the_original_numbers(api, alice):
    """bot/api.py: a booking system retrying after a timeout reads what the refund reversed,
    as a replayed purchase answers with what the order paid."""
    api("/api/purchases", order(amount="200.00"))
    first = refund(api, amount="100.00")
    again = refund(api, amount="100.00")
    assert again.json == {**first.json, "replayed": True}


def test_the_same_refund_id_with_another_amount_is_409(api, db, alice):
    """A refund id names one refund: asked again for another amount, it is refused."""
    api("/api/purchases", order(amount="200.00"))
    refund(api, amount="50.00")
    answer = refund(api, amount="60.00")
    assert answer.status_code == 409 and answer.json["error"] == "duplicate_refund"
    assert balances(db, alice)[0] == 15


def test_refunding_more_than_is_left_is_422(api, db, alice):
    """Refunds never add up to more than the order: over_refund, nothing reversed."""
    api("/api/purchases", order(amount="200.00"))
    refund(api, amount="150.00")
    answer = refund(api, refund_id="R-2", amount="60.00")
    assert answer.status_code == 422 and answer.json["error"] == "over_refund"
    assert "50.00" in answer.json["message"]
    assert balances(db, alice)[0] == 5


def test_a_full_refund_after_a_partial_one_reverses_exactly_the_rest(api, db, alice):
    """Without an amount, the rest of the order is refunded and the awards go back to zero."""
    api("/api/purchases", order(amount="199.99"))           # 19 points, 199 growth
    part = refund(api, amount="33.33")
    assert (part.json["points_reversed"], part.json["growth_reversed"]) == (3, 33)
    rest = refund(api, refund_id="R-2")
    assert rest.status_code == 201
    assert (rest.json["points_reversed"], rest.json["growth_reversed"]) == (16, 166)
    assert balances(db, alice) == (0, 0)
    award = db.scalar(select(Award))
    assert (award.points_reversed, award.growth_reversed) == (award.points, award.growth) == (19, 199)
    done = refund(api, refund_id="R-3")
    assert done.status_code == 422 and done.json["error"] == "nothing_to_refund"


def test_refunding_an_unknown_order_is_404(api, alice):
    """A refund for an order never reported: 404 unknown_order."""
    answer = refund(api, order_id="NOPE")
    assert answer.status_code == 404 and answer.json["error"] == "unknown_order"


def test_an_order_id_with_a_slash_can_be_refunded(api, db, alice):
    """Any order id the API accepted can be refunded (URL-encoded in the path)."""
    assert api("/api/purchases", order(order_id="2026/11/A-7")).status_code == 201
    answer = api("/api/purchases/2026%2F11%2FA-7/refund", {"refund_id": "R-1"})
    assert answer.status_code == 201 and answer.json["points_reversed"] == 12
    assert balances(db, alice)[0] == 0


@pytest.mark.parametrize("method, path, status", [("GET", "/api/purchases", 405),
                                                  ("POST", "/api/purchase", 404)])
def test_every_api_error_is_json(app, method, path, status):
    """bot/api.py: errors are JSON {error, message}, also for a wrong method or path."""
    answer = app.test_client().open(path, method=method)
    assert answer.status_code == status
    assert answer.is_json and set(answer.json) == {"error", "message"}


def test_a_refund_without_refund_id_is_400(api, alice):
    """The refund id is what makes a retried refund safe: it is required."""
    api("/api/purchases", order())
    answer = api("/api/purchases/A-1/refund", {"amount": "10.00"})
    assert answer.status_code == 400 and answer.json["error"] == "invalid_field"


def test_a_refund_after_the_points_were_spent_takes_back_only_what_is_left(app, api, db, alice):
    """Spent points stay spent: the balance goes to zero, never below; growth goes back in full."""
    api("/api/purchases", order(amount="200.00"))           # 20 points, 200 growth
    with points.transaction(app) as book:
        spend(book, alice.id, 15, "mall", "M-1", "积分商城兑换")
    answer = refund(api)
    assert answer.status_code == 201
    assert (answer.json["points_reversed"], answer.json["growth_reversed"]) == (5, 200)
    assert balances(db, alice) == (0, 0)
    reversal = db.scalar(select(LedgerEntry).where(LedgerEntry.kind == "reverse", LedgerEntry.ledger == "points"))
    assert reversal.delta == -5 and "余额不足" in reversal.reason
    assert db.scalar(select(func.sum(LedgerEntry.delta)).where(LedgerEntry.ledger == "points")) == 0


def test_the_member_is_told_through_their_fan(api, db, wx, jobs, world, account, alice):
    """Issue #3 Build 7: every change a member cares about goes out through the outbound policy."""
    wx.follow()
    fan = db.scalar(select(Fan).where(Fan.openid == wx.openid))
    fan.member_id = alice.id
    db.commit()
    api("/api/purchases", order(amount="200.00"))
    db.rollback()
    pending = db.scalars(select(OutboundMessage.content).where(OutboundMessage.openid == wx.openid,
                                                               OutboundMessage.status == "pending")).all()
    assert pending == ["消费：积分 +20，成长值 +200。当前积分 20。"]
    refund(api, amount="100.00")
    jobs.run_all()
    told = "\n".join(m["content"] for m in world.messages_to(account.appid, wx.openid))
    assert "消费：积分 +20，成长值 +200。当前积分 20。" in told
    assert "订单 A-1 退款：扣回 10 积分。当前积分 10。" in told


def test_phones_never_reach_the_logs(api, alice, caplog):
    """ANCHORS/STYLE: phones are personal data; logs carry them masked or not at all."""
    caplog.set_level(logging.DEBUG)
    api("/api/purchases", order())
    api("/api/purchases", order(order_id="A-2", phone="13999999999"))
    api("/api/purchases", order(amount="-1"))
    refund(api, amount="10.00")
    assert caplog.records
    assert PHONE not in caplog.text and "13999999999" not in caplog.text


def test_an_integration_refunds_only_its_own_orders(api, alice, db, app, clock):
    """One booking system cannot reverse another's orders: to it they do not exist (404)."""
    db.add(Integration(name="travel-agency", secret="t" * 64))
    db.commit()
    assert api("/api/purchases", order()).status_code == 201
    other = api("/api/purchases/A-1/refund", {"refund_id": "R1"}, name="travel-agency", secret="t" * 64)
    assert (other.status_code, other.json["error"]) == (404, "unknown_order")
    assert api("/api/purchases/A-1/refund", {"refund_id": "R1"}).status_code == 201


def test_an_order_paid_in_the_future_is_refused(api, alice, clock):
    """A paid_at more than ten minutes ahead of our clock is a mistake, not an order to pay."""
    ahead = api("/api/purchases", order(paid_at="2026-11-24T10:00:00+08:00"))   # clock: 11-23 18:00 CST
    assert (ahead.status_code, ahead.json["error"]) == (400, "invalid_field")
    assert "future" in ahead.json["message"]


def test_payment_method_multipliers_ignore_case(api, alice, db):
    """The rules say `wechat`; the booking system writes `WeChat`: the multiplier applies."""
    assert api("/api/purchases", order(amount="100", method="WeChat")).json["points"] == 20
