"""The routing table, read top to bottom: the one place bot/ imports feature modules.

An active conversation, "取消"/"退出" and menu clicks are handled by the dispatcher before
these routers are tried (bot/dispatch.py).
"""
from bot.dispatch import Dispatcher
from handlers import (bind_phone, common, cs, cs_desk, cs_kf, keywords, linking, mall, mass_finish, me,
                      points, poster, recruit, reports, subscribe, survey)
from h5 import mall_redeem, survey_results, web

ROUTERS = [
    subscribe.router,    # subscribe, subscribe_scan, scan, unsubscribe
    cs_desk.router,      # agents only: the desk's commands, messages for their fans
    cs.router,           # fans only: 人工, their messages in a conversation, the rating
    cs_kf.router,        # WeChat's kf system: kf_create/close/switch_session mirrored
    linking.router,      # 服务号, 商城 without OAuth, the weekly reminder (then routing goes on)
    mass_finish.router,  # MASSSENDJOBFINISH: a mass send's counts
    bind_phone.router,   # 绑定 and the BIND_PHONE key: phone, code, referrer
    me.router,           # 我的, 帮助 by role, 解绑
    points.router,       # 积分, 积分明细, 签到, the MY_POINTS menu key
    poster.router,       # 海报 (staff)
    recruit.router,      # 拉新 (store managers)
    reports.router,      # 报表 (store managers)
    mall.router,         # 商城: the points mall's news card
    survey.router,       # 问卷, 问卷结果 (guides; managers see their store's)
    keywords.router,     # per-account auto-replies (exact, then contains)
    common.router,       # 帮助, unknown menu keys, the fallback
]


def make_dispatcher(strict: bool) -> Dispatcher:
    return Dispatcher(ROUTERS, strict=strict)


# The H5 pages' blueprints (h5/), registered after the foundation (session, CSRF, OAuth
# callback, WeUI). The mall's blueprint is taken from mall_redeem, which adds the redeem views;
# the surveys' from survey_results, which adds the staff's results pages.
H5_BLUEPRINTS = [mall_redeem.bp, survey_results.bp]   # survey_results adds to h5/survey.py's


def register_pages(app) -> None:
    """The H5 foundation, then each area's blueprint."""
    web.init_app(app)
    for blueprint in H5_BLUEPRINTS:
        app.register_blueprint(blueprint)
