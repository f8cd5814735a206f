"""A follow from a product's page: WeChat pushes `subscribe` with EventKey
"scanbarcode|<standard>|<code>" (or "scanimage|…") when a person scans a product barcode and
follows from there (a real event in wechatpy's parser and test samples). It is a follow like any
other: welcomed, counted, the fan following, the window open; no QR code of ours was scanned."""
import pytest
from sqlalchemy import select

from bot.outbound import CsWindow
from models import Event
from tests.conftest import WELCOME, later
from tests.test_qr_scans import fan_row, qr_events

PRODUCT_KEYS = ["scanbarcode|EAN13|6901234567892", "scanimage|qrcode|x", "scanbarcode|", "scanbarcode|EAN13"]


@pytest.mark.parametrize("mode", ["plain", "safe"])
@pytest.mark.parametrize("key", PRODUCT_KEYS)
def test_a_follow_from_a_product_page_is_a_follow(app, db, phone, clock, jobs, key, mode):
    """Welcome and binding offer, following, a follow QR event without a scene, the EventKey kept."""
    wx = phone("dora", mode)
    assert wx.event("subscribe", key=key, user_event="follow").content == WELCOME
    fan = fan_row(db, wx)
    assert (fan.following, fan.follow_count, fan.first_scene, fan.source_code_id) == (True, 1, None, None)
    assert qr_events(db, wx) == [("follow", None, False, None)]
    assert db.execute(select(Event.type, Event.key, Event.outcome)).all() == [("subscribe", key, "ok")]
    # §4.7: a follow opens the one-minute event window, as any follow does.
    assert CsWindow(app.extensions["redis"], wx.account.slug, wx.openid).take(clock.timestamp()) == "evt"
    assert "workers.tags.sync_fan_tags" in jobs.queued()


def test_a_product_follow_delivered_twice_follows_once_and_a_later_unfollow_counts(app, db, wx, clock):
    """§2: WeChat's retry of the product follow is the same push; the unfollow after it is recorded."""
    xml = wx.xml({"MsgType": "event", "Event": "subscribe", "EventKey": PRODUCT_KEYS[0]})
    assert wx.deliver(xml, "follow").content == wx.deliver(xml).content == WELCOME
    later(clock, minutes=3)
    wx.unfollow()
    assert [e[0] for e in qr_events(db, wx)] == ["follow", "unfollow"]
    assert fan_row(db, wx).following is False
