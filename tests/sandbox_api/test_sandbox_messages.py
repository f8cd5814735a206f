"""The sandbox API: customer-service windows (§4.7) and template messages (§4.8)."""
import pytest

from sandbox_support import SERVICE, SUB, errcode


# --- §4.7 customer-service windows ---------------------------------------------------------------

def test_follow_opens_three_messages_for_one_minute(api, wx, clock):
    wx.user_event(SERVICE, "o1", "follow")
    assert [api.send_text("o1") for _ in range(4)] == [0, 0, 0, 45047]
    clock.advance(seconds=61)
    assert api.send_text("o1") == 45015
    assert len(wx.messages_to(SERVICE, "o1")) == 3


@pytest.mark.parametrize("kind", ["click", "scan"])
def test_click_and_scan_open_the_one_minute_budget(api, wx, clock, kind):
    wx.user_event(SERVICE, "o1", "follow")
    clock.advance(seconds=120)
    assert api.send_text("o1") == 45015
    wx.user_event(SERVICE, "o1", kind)
    assert [api.send_text("o1") for _ in range(4)] == [0, 0, 0, 45047]


def test_user_message_opens_five_messages_for_48_hours(api, wx, clock):
    wx.user_event(SERVICE, "o1", "message")
    clock.advance(seconds=120)
    assert [api.send_text("o1") for _ in range(6)] == [0, 0, 0, 0, 0, 45047]
    wx.user_event(SERVICE, "o1", "message")
    assert api.send_text("o1") == 0
    clock.advance(hours=48)
    assert api.send_text("o1") == 45015


def test_sends_spend_the_one_minute_budget_first(api, wx):
    wx.user_event(SERVICE, "o1", "message")
    wx.user_event(SERVICE, "o1", "click")
    assert [api.send_text("o1") for _ in range(9)] == [0] * 8 + [45047]
    window = wx.cs_window(SERVICE, "o1")
    assert (window["evt_used"], window["msg_used"]) == (3, 5)


def test_unfollowed_fan_gets_45015(api, wx):
    wx.user_event(SERVICE, "o1", "message")
    wx.user_event(SERVICE, "o1", "unfollow")
    assert api.send_text("o1") == 45015
    assert wx.messages_to(SERVICE, "o1") == []


def test_text_over_2048_bytes_is_refused_without_spending_budget(api, wx):
    wx.user_event(SERVICE, "o1", "follow")
    assert api.send_text("o1", "好" * 683) == 45002
    assert api.send_text("o1", "好" * 682 + "ab") == 0
    assert [api.send_text("o1") for _ in range(3)] == [0, 0, 45047]


def test_delivered_messages_are_recorded_in_order(api, wx):
    wx.user_event(SERVICE, "o1", "message")
    api.send_text("o1", "一")
    api.send_text("o1", "二")
    assert [(m["kind"], m["msgtype"], m["content"]) for m in wx.messages_to(SERVICE, "o1")] == \
        [("custom", "text", "一"), ("custom", "text", "二")]
    assert wx.messages_to(SERVICE, "o1")[0]["payload"]["touser"] == "o1"


def test_image_message_needs_uploaded_media(api, wx):
    wx.user_event(SERVICE, "o1", "message")
    body = {"touser": "o1", "msgtype": "image", "image": {"media_id": "nope"}}
    assert errcode(api.post("/cgi-bin/message/custom/send", body)) == 40007
    media_id = api.upload(SERVICE, "image", b"\x89PNG" * 10, "poster.png")["media_id"]
    body["image"]["media_id"] = media_id
    assert errcode(api.post("/cgi-bin/message/custom/send", body)) == 0


def test_typing_is_accepted_and_recorded(api, wx):
    wx.user_event(SERVICE, "o1", "message")
    body = {"touser": "o1", "command": "Typing"}
    assert errcode(api.post("/cgi-bin/message/custom/typing", body)) == 0
    assert wx.calls("/cgi-bin/message/custom/typing")[0]["body"] == body


# --- §4.8 template messages ----------------------------------------------------------------------

def test_template_send_needs_a_follower_and_returns_msgid(api, wx):
    body = {"touser": "o1", "template_id": "tpl", "url": "https://h5.example.com",
            "data": {"thing1": {"value": "积分到账"}}}
    wx.user_event(SERVICE, "o1", "follow")
    wx.user_event(SERVICE, "o1", "unfollow")
    assert errcode(api.post("/cgi-bin/message/template/send", body)) == 43004
    wx.user_event(SERVICE, "o1", "follow")
    answer = api.post("/cgi-bin/message/template/send", body)
    assert answer["errcode"] == 0 and isinstance(answer["msgid"], int)
    assert [(m["kind"], m["payload"]["template_id"]) for m in wx.messages_to(SERVICE, "o1")] == \
        [("template", "tpl")]
    assert errcode(api.post("/cgi-bin/message/template/send", body, appid=SUB)) == 48001
