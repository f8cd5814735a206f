"""Menus as data (issue #5, Build 6, the part built so far): every click key routed, WeChat's
limits checked before sending, pushed through the sandbox with conditional menus by role tag."""
import pytest

from bot.routes import ROUTERS
from menus.definition import ACCOUNT_MENUS, DEFAULT, MenuKey, click, keys_in
from menus.validate import TYPES, problems
from models.tag import FAN_ROLE, MEMBER_ROLE, STAFF_ROLE
from tests.conftest import SAMPLE


def test_every_click_key_has_a_route_and_every_routed_key_is_in_a_menu():
    """STYLE.md 7.9: a menu button nobody answers, or a route no menu reaches, fails here."""
    defined = keys_in(DEFAULT).union(*(keys_in(menus) for menus in ACCOUNT_MENUS.values()))
    routed = set().union(*(router.click_keys for router in ROUTERS))
    assert defined == routed
    assert defined == {v for k, v in vars(MenuKey).items() if k.isupper()}


def test_the_shipped_menus_are_within_wechats_limits():
    """§4.5: 1–3 top buttons, 1–5 below, name and key byte lengths."""
    for role, buttons in DEFAULT.items():
        assert problems(buttons, f"{role} menu") == []


def test_every_broken_limit_is_named():
    """Each problem names the button and the rule it breaks."""
    long_key = click("好", "K" * 129)
    broken = [
        {"name": "会员中心会员中心会员", "sub_button": [click(f"第{n}项", "A") for n in range(6)]},
        {"name": "链接", "type": "view", "url": ""},
        {"name": "奇怪", "type": "fax", "key": "X"},
        long_key,
    ]
    assert problems(broken, "fan menu") == [
        "fan menu: 1 to 3 top buttons, not 4",
        "fan menu › 会员中心会员中心会员: name is 30 bytes (1 to 16)",
        "fan menu › 会员中心会员中心会员: 1 to 5 sub buttons, not 6",
        "fan menu › 链接: url must be 1 to 1024 bytes",
        "fan menu › 奇怪: type 'fax' is not one of " + ", ".join(sorted(TYPES)),
        "fan menu › 好: key must be 1 to 128 bytes",
    ]
    assert problems([], "staff menu") == ["staff menu: 1 to 3 top buttons, not 0"]


def test_push_sets_the_default_menu_and_one_conditional_menu_per_role(app, account, world, jobs):
    """The fan menu is the default; members and staff get theirs by their role tag (§4.6)."""
    cli = app.test_cli_runner()
    before = cli.invoke(args=["menus", "diff", "--account", "hq"])
    assert "粉丝: differs" in before.output and "run: flask --app wsgi menus push --account hq" in before.output
    pushed = cli.invoke(args=["menus", "push", "--account", "hq"])
    assert pushed.exit_code == 0, pushed.output
    jobs.run_all()
    live = world.menus(SAMPLE["appid"])
    # A verified service account's fans find 积分商城 (a VIEW button) beside 帮助 under 更多.
    assert [b["name"] for b in live["menu"]["button"]] == ["成为会员", "联系客服", "更多"]
    assert [b["name"] for b in live["menu"]["button"][2]["sub_button"]] == ["积分商城", "帮助"]
    tags = {t["id"]: t["name"] for t in world.tags(SAMPLE["appid"])}
    by_role = {tags[int(m["matchrule"]["tag_id"])]: m for m in live["conditional"]}
    assert set(by_role) == {MEMBER_ROLE, STAFF_ROLE}
    assert by_role[STAFF_ROLE]["button"][0]["name"] == "员工中心"
    cli.invoke(args=["menus", "push", "--account", "hq"])      # again: the same menus, no pile-up
    jobs.run_all()
    assert len(world.menus(SAMPLE["appid"])["conditional"]) == 2
    after = cli.invoke(args=["menus", "diff", "--account", "hq"])
    assert after.output.splitlines()[-1] == "live menus match the definition"
    assert {f"{role}: same" for role in (FAN_ROLE, MEMBER_ROLE, STAFF_ROLE)} <= set(after.output.splitlines())


def test_an_unverified_subscription_account_is_refused_clearly(app, make_account):
    """§5.1: no menus API there; the command says so instead of failing in a job."""
    make_account(slug="sub", type="subscription", verified=False, appid="wx00000000000000sb",
                 original_id="gh_sub")
    result = app.test_cli_runner().invoke(args=["menus", "push", "--account", "sub"])
    assert result.exit_code != 0 and "may not set menus" in result.output


@pytest.mark.parametrize("key, answer", [(MenuKey.ME, "您还没有绑定手机"), (MenuKey.SIGN_IN, "您还不是会员"),
                                         (MenuKey.POINTS_DETAIL, "您还不是会员"), (MenuKey.HELP, "您可以")])
def test_each_menu_key_answers(wx, key, answer):
    """A click on each button gets its handler's answer (a fan who is not a member here)."""
    assert wx.click(key).startswith(answer)
