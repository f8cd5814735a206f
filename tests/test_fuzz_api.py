"""The purchases API under fuzzing: any body, any field type, any signature header; never a
500, a JSON refusal with a stable code, and no row (order, refund, award, ledger entry, pending
message) from a refused call; every valid order and refund is recorded once and answered."""
import itertools
import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from models import Award, LedgerEntry, OutboundMessage, Purchase, Refund
from points_support import PHONE, SECRET, signed_post

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
REFUSALS = {400, 401, 404, 409, 413, 422}
_orders = itertools.count(1)

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=6)
AMOUNT_JUNK = st.sampled_from(["0", "-1", "1.005", "1e30", "1E+400", "NaN", "Infinity", "-0", " ", "１２", "1_000",
                               "0x10", 1e308, -5, 0, True, "12.3.4", "9" * 40, "1000000000.01"])
TIME_JUNK = st.sampled_from(["0001-01-01T00:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                             "2026-13-01T00:00:00", "yesterday", "", "2026-11-23T25:00:00", 1763877900,
                             "2026-11-23T10:00:00+99:00"])


def good_amount():
    return st.decimals(min_value="0.01", max_value="100000", places=2).map(str)


def good_time(clock):
    return st.integers(0, 300 * 24 * 3600).map(lambda s: (clock.now() - timedelta(seconds=s)).isoformat())


def footprint(app) -> tuple:
    with app.extensions["db"]() as s:
        return tuple(s.scalar(select(func.count()).select_from(m))
                     for m in (Purchase, Refund, Award, LedgerEntry, OutboundMessage))


def answered(response, before, after, created: str) -> None:
    """Never a 500; a refusal is JSON {error, message} and leaves nothing; a 201 stored one row."""
    assert response.status_code in REFUSALS | {200, 201}, response.json
    event(f"{response.status_code} {(response.json or {}).get('error', '')}")
    if response.status_code >= 400:
        assert set(response.json) == {"error", "message"} and response.json["message"]
        assert after == before, response.json
    elif response.status_code == 201:
        index = 0 if created == "purchase" else 1
        assert after[index] == before[index] + 1
    else:
        assert response.json["replayed"] is True and after == before


def order_body(draw, clock) -> dict:
    """A valid order with none, one or a few fields junked (wrong type, size, value) or left out."""
    fields = {"order_id": (st.builds(lambda: f"F-{next(_orders)}"), st.sampled_from(["", " ", "x" * 65, "F-1"])),
              "phone": (st.sampled_from([PHONE, "+86 138 0000 0000"]), st.sampled_from(["", "1380000000", "13900000000"])),
              "amount": (good_amount(), AMOUNT_JUNK),
              "paid_at": (good_time(clock), TIME_JUNK),
              "payment_method": (st.sampled_from(["cash", "wechat", "card"]), st.sampled_from(["", "x" * 33])),
              "openid": (st.just(None), JSON)}
    broken = draw(st.sets(st.sampled_from(sorted(fields)), max_size=3))
    body = {name: draw(st.one_of(junk, JSON, st.just(None)) if name in broken else good)
            for name, (good, junk) in fields.items()}
    return {k: v for k, v in body.items() if v is not None}


@FUZZ
@given(data=st.data())
def test_any_purchase_call_is_answered_and_a_refused_one_stores_nothing(app, api, alice, clock, data):
    """Any mix of good and junk fields (types, sizes, amounts like 1e30, times like year 1)."""
    before = footprint(app)
    response = api("/api/purchases", order_body(data.draw, clock))
    answered(response, before, footprint(app), "purchase")


@FUZZ
@given(body=st.one_of(JSON, st.binary(max_size=200)))
def test_any_body_at_all_is_refused_as_json(app, api, alice, body):
    """Not an object, not JSON, not UTF-8: a 400 with its code, nothing stored."""
    before = footprint(app)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = api("/api/purchases", raw)
    answered(response, before, footprint(app), "purchase")


@FUZZ
@given(name=st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=20),
       stamp=st.one_of(st.integers(-10**12, 10**12).map(str), st.text(st.characters(min_codepoint=32, max_codepoint=255),
                                                                       max_size=12)),
       signature=st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=70))
def test_any_signature_headers_are_refused_as_401(app, api, alice, clock, name, stamp, signature):
    """Headers from somebody who does not hold the key: 401, nothing stored."""
    before = footprint(app)
    body = json.dumps({"order_id": "H-1", "phone": PHONE, "amount": "10.00",
                       "paid_at": clock.now().isoformat(), "payment_method": "cash"}).encode()
    response = app.test_client().post("/api/purchases", data=body, content_type="application/json",
                                      headers={"X-Integration": name, "X-Timestamp": stamp, "X-Signature": signature})
    assert response.status_code == 401 and response.json["error"] in {"unknown_integration", "stale_timestamp",
                                                                      "bad_signature"}
    assert footprint(app) == before


@FUZZ
@given(data=st.data())
def test_every_valid_order_is_recorded_once_and_any_refund_call_is_answered(app, api, alice, clock, data):
    """A valid order: 201 and one row, 200 "replayed" on a retry; then any refund call on it."""
    order_id = f"V-{next(_orders)}"
    valid = {"order_id": order_id, "phone": PHONE, "amount": data.draw(good_amount()),
             "paid_at": data.draw(good_time(clock)), "payment_method": data.draw(st.sampled_from(["cash", "wechat"]))}
    before = footprint(app)
    assert api("/api/purchases", valid).status_code == 201
    assert footprint(app)[0] == before[0] + 1
    assert api("/api/purchases", valid).json["replayed"] is True
    path = data.draw(st.sampled_from([order_id, order_id, "nope", "x" * 300]))
    body = {"refund_id": data.draw(st.one_of(st.sampled_from(["R-1", "R-2"]), st.sampled_from(["", "x" * 65]), JSON)),
            "amount": data.draw(st.one_of(st.just(None), good_amount(), AMOUNT_JUNK, JSON))}
    before = footprint(app)
    response = api(f"/api/purchases/{path}/refund", {k: v for k, v in body.items() if v is not None})
    answered(response, before, footprint(app), "refund")
