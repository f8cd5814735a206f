"""The webhook under fuzzing (WECHAT-PLATFORM.md §1-§3, §6.1, §7.9), in all three modes: every
push WeChat could send is answered (200, a reply addressed to its sender or an acknowledgement)
and recorded once; anything else gets 400/403/413, never a 500 that WeChat would retry, and
leaves nothing behind (no event, fan, pending message or Redis key)."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.pipeline import APOLOGY
from models import Event, Fan, OutboundMessage
from tests.fuzz_support import MUTATION, mutate, seal, valid_push

# Bounded and derandomized (tests/conftest.py): the same examples on every CI run, a few seconds each.
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
MODES = ["plain", "compat", "safe"]
ANSWERED = {200, 400, 403, 413}


def footprint(app) -> tuple:
    """What a push can leave behind: rows, and Redis keys outside WeChat's own (the sandbox's)."""
    with app.extensions["db"]() as s:
        rows = tuple(s.scalar(select(func.count()).select_from(m)) for m in (Event, Fan, OutboundMessage))
    keys = {k for k in app.extensions["redis"].keys() if not k.startswith((b"sandbox:", b"account:"))}
    return rows, keys


def post(app, account, mode, inner: bytes, stamp: int):
    query, body = seal(account, mode, inner, str(stamp), "1320562132")
    return app.test_client().post(f"/wechat/{account.slug}", query_string=query, data=body)


@pytest.mark.parametrize("mode", MODES)
@FUZZ
@given(data=st.data())
def test_every_push_wechat_could_send_is_answered_and_recorded_once(app, account, phone, clock, mode, data):
    """§3: any type, any field text (`]]>`, emoji, 2 000 characters), CDATA or escaped, any order."""
    xml, openid, label = data.draw(valid_push(account.original_id))
    (events, _, _), _ = footprint(app)
    response = post(app, account, mode, xml.encode(), int(clock.timestamp()))
    assert response.status_code == 200, (label, response.data)
    with app.extensions["db"]() as s:
        rows = s.execute(select(Event.openid, Event.outcome).order_by(Event.id.desc()).limit(1)).all()
        assert s.scalar(select(func.count()).select_from(Event)) == events + 1
    assert rows == [(openid, "ok")], label
    fields = phone("reader", mode).unwrap(response.data)
    if fields is not None:      # a reply: to this sender, from this account, never the apology
        assert (fields["ToUserName"], fields["FromUserName"]) == (openid, account.original_id)
        assert fields.get("Content") != APOLOGY
    else:
        assert response.data == (b"success" if mode == "plain" else b"")


@pytest.mark.parametrize("mode", MODES)
@FUZZ
@given(data=st.data(), mutation=MUTATION)
def test_a_broken_push_is_refused_and_leaves_nothing_or_is_answered_once(app, account, clock, mode, data,
                                                                        mutation):
    """One edit to a valid push (cut, a field's value swapped for junk, dropped or doubled, bytes
    inserted, another encoding), signed and sealed as WeChat would: never a 500; refused → no
    trace at all; accepted → answered and recorded exactly once."""
    xml, _, _ = data.draw(valid_push(account.original_id))
    before = footprint(app)
    response = post(app, account, mode, mutate(xml, mutation), int(clock.timestamp()))
    assert response.status_code in ANSWERED, (mutation, response.data)
    after = footprint(app)
    if response.status_code != 200:
        assert after == before, mutation
    else:
        assert after[0][0] == before[0][0] + 1, mutation


@pytest.mark.parametrize("mode", ["compat", "safe"])
@FUZZ
@given(data=st.data(), mutation=MUTATION)
def test_a_broken_envelope_is_refused_and_leaves_nothing(app, account, clock, mode, data, mutation):
    """§1.4-§1.6: the sealed body itself edited after signing (the Encrypt, its wrapper): 400, no trace."""
    xml, _, _ = data.draw(valid_push(account.original_id))
    query, body = seal(account, mode, xml.encode(), str(int(clock.timestamp())), "1320562132")
    broken = mutate(body.decode(), (mutation[0], "Encrypt", *mutation[2:]) if mutation[0] in ("swap", "drop", "double")
                    else mutation)
    before = footprint(app)
    response = app.test_client().post(f"/wechat/{account.slug}", query_string=query, data=broken)
    assert response.status_code in ANSWERED, (mutation, response.data)
    if response.status_code != 200:
        assert footprint(app) == before, mutation
    else:
        assert footprint(app)[0][0] == before[0][0] + 1, mutation
