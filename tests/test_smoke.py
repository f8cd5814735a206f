def test_follow_then_text(wx, account):
    assert wx.follow() == "欢迎关注总部服务号！"
    assert "没太明白" in wx.text("你好")
