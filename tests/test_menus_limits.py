"""Menus that break WeChat's limits are refused by `menus push` before any API call (issue #5,
Must show; WECHAT-PLATFORM.md §4.5)."""
from menus import definition
from menus.definition import MenuKey, click
from models.tag import FAN_ROLE, MEMBER_ROLE, STAFF_ROLE


def test_a_menu_over_the_limits_is_refused_before_any_api_call(app, account, world, jobs, monkeypatch):
    broken = {
        FAN_ROLE: [click("成为会员", MenuKey.BIND_PHONE), click("帮助", MenuKey.HELP)],
        MEMBER_ROLE: [{"name": "会员中心", "sub_button": [click(f"第{n}项", MenuKey.ME) for n in range(6)]}],
        STAFF_ROLE: [click("员工中心员工中心员工中心", MenuKey.ME)],
    }
    monkeypatch.setitem(definition.ACCOUNT_MENUS, "hq", broken)
    calls_before = len(world.calls())

    result = app.test_cli_runner().invoke(args=["menus", "push", "--account", "hq"])

    assert result.exit_code != 0
    assert "会员 menu › 会员中心: 1 to 5 sub buttons, not 6" in result.output
    assert "员工 menu › 员工中心员工中心员工中心: name is 36 bytes (1 to 16)" in result.output
    assert "break WeChat's limits (2 problems)" in result.output
    assert jobs.queued() == []                       # no push job: nothing would reach WeChat
    jobs.run_all()
    assert len(world.calls()) == calls_before        # not one API call
