from tests.conftest import WELCOME


def test_follow_then_text(wx, account):
    assert wx.follow() == WELCOME
    assert "没太明白" in wx.text("你好")
