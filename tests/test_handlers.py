"""The shipped handlers (handlers/subscribe.py, keywords.py, common.py), as transcripts through the
webhook. Follow pushes of one fan in the same second would be one push to dedup (§2), so the
clock moves between them as it does on a phone."""
import pytest
from sqlalchemy import select

from handlers.common import FALLBACK
from handlers.subscribe import BIND_OFFER, DEFAULT_WELCOME, WELCOME_BACK
from models import Fan, KeywordReply
from models.keyword import CONTAINS, EXACT
from tests.conftest import WELCOME


def fan(app, phone) -> Fan:
    with app.extensions["db"]() as session:
        return session.scalar(select(Fan).where(Fan.account_id == phone.account.id,
                                                Fan.openid == phone.openid))


def test_a_follow_is_welcomed_with_the_accounts_text(app, wx):
    """§3.3: a plain subscribe may be answered; the fan is recorded as following."""
    assert wx.follow() == WELCOME
    row = fan(app, wx)
    assert (row.following, row.follow_count, row.first_scene, row.last_scene) == (True, 1, None, None)
    assert row.followed_at is not None


def test_an_account_without_a_welcome_text_uses_the_default(make_account, phone):
    """An empty welcome_text still gets the person a welcome."""
    sub = make_account(slug="sub", type="subscription", appid="wx0000000000000sub", original_id="gh_sub",
                       welcome_text="")
    assert phone("carol", account=sub).follow() == f"{DEFAULT_WELCOME}\n\n{BIND_OFFER}"


def test_the_first_qr_code_stays_the_fans_source_and_later_scans_move_only_the_last(app, wx, clock):
    """§3.3: subscribe via qrscene_123 records scene 123 as first touch; a later SCAN only moves
    last_scene and gets no reply of its own."""
    assert wx.follow("123") == WELCOME
    row = fan(app, wx)
    assert (row.first_scene, row.last_scene) == ("123", "123")
    clock.advance(seconds=5)
    scan = wx.event("SCAN", key="456", extra={"Ticket": "sandbox"})
    assert (scan.status, scan.body) == (200, b"success")
    row = fan(app, wx)
    assert (row.first_scene, row.last_scene, row.follow_count) == ("123", "456", 1)


def test_a_scan_from_a_fan_we_never_saw_follow_marks_them_following(app, wx):
    """§3.3: SCAN comes only from followers, so it proves the follow we missed."""
    wx.scan("789")
    row = fan(app, wx)
    assert (row.following, row.first_scene, row.follow_count) == (True, "789", 0)


def test_unfollow_is_silent_and_a_refollow_counts_again(app, wx, clock):
    """§3.3: unsubscribe replies are not delivered, so none is sent; the fan row is kept."""
    wx.follow()
    clock.advance(seconds=30)
    reply = wx.event("unsubscribe")
    assert (reply.status, reply.body) == (200, b"success")
    row = fan(app, wx)
    assert (row.following, row.follow_count) == (False, 1)
    assert row.unfollowed_at == clock.now()
    clock.advance(days=1)
    assert wx.follow("555") == WELCOME_BACK + WELCOME     # a re-follow is recognised (issue #5)
    row = fan(app, wx)
    assert (row.following, row.follow_count, row.first_scene) == (True, 2, "555")


@pytest.fixture
def keywords(db, account):
    db.add_all([KeywordReply(account_id=account.id, keyword=keyword, match=match, reply=reply)
                for keyword, match, reply in [
                    ("门票", EXACT, "门票：请点菜单“购票”"),
                    ("门票", CONTAINS, "关于门票，请看菜单"),
                    ("儿童门票", CONTAINS, "儿童门票半价"),
                    ("营业时间", CONTAINS, "每天 9:00-18:00"),
                ]])
    db.commit()


@pytest.mark.parametrize("said, answer", [
    ("门票", "门票：请点菜单“购票”"),              # exact beats contains
    ("  门票  ", "门票：请点菜单“购票”"),          # surrounding spaces are not part of the text
    ("想问门票多少钱", "关于门票，请看菜单"),
    ("儿童门票多少钱", "儿童门票半价"),             # the longest contained keyword wins
    ("你们营业时间是？", "每天 9:00-18:00"),
    ("天气怎么样", FALLBACK),                     # no keyword: the common fallback
])
def test_keyword_replies(wx, keywords, said, answer):
    """Keyword auto-replies: an exact match first, then the longest contained keyword."""
    assert wx.text(said) == answer


def test_keywords_belong_to_their_account(make_account, phone, keywords):
    """§7.7: accounts are separate; another account's keywords do not answer here."""
    sub = make_account(slug="sub", type="subscription", appid="wx0000000000000sub", original_id="gh_sub")
    assert phone("carol", account=sub).text("门票") == FALLBACK
