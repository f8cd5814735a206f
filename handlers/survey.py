"""问卷: a guide picks a survey, names the tour group and gets a card to forward.

  问卷 (guides)            → numbered list of the open surveys for the guide's store → PICK
  PICK   --a listed number--> GROUP ("请回复团号，没有请回复“跳过”")
         --anything else----> STAY (re-ask with the range)
  GROUP  --团号 or 跳过------> END: a one-article news card (title, description, cover, link)
         --not a 团号-------> STAY
  问卷结果 (guides, managers) → per link: opened, started, completed, last completion, results page
Not on the active roster, or no guide role: told who may use it. The same survey and group ask
again give the same link (bot/surveys/links.py: one row, a token without time).
"""
import re

from sqlalchemy import select

from bot.binding.roles import active_staff
from bot.clock import CST
from bot.dispatch import END, STAY, Router, Turn, text_of
from bot.protocol import Article
from bot.surveys import catalog, links, results
from models import Store, Survey
from models.org import GUIDE, MANAGER

router = Router("survey")

PICK = "survey:pick"
GROUP = "survey:group"
GUIDES_ONLY = "“问卷”是导游专用功能：导游绑定登记在册的手机号后，即可向游客发送问卷。"
NOT_GUIDE = "“问卷”仅向导游开放。如需发送问卷，请联系店长在员工名册中为您加上导游角色。"
NONE_OPEN = "现在没有可以发送的问卷。问卷由总部上传，开放后回复“问卷”即可发送。"
ASK_GROUP = "请回复本次的团号（字母、数字或 -，最多 32 位），没有团号请回复“跳过”。"
BAD_GROUP = "团号只能包含字母、数字、- 和 _，最多 32 位。请重新输入，没有团号请回复“跳过”。"
SKIP_WORDS = frozenset("跳过 无 没有".split())   # answers meaning "no group code"
GROUP_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
# Survey pages need WeChat OAuth, which only a verified service account has (§5.1).
NO_PAGES = "问卷页面需要已认证的服务号，本系统还没有配置，暂时无法生成链接。请联系管理员。"
NO_LINKS = "您还没有发出问卷。回复“问卷”选择问卷并获取链接。"
LINKS_SHOWN = 8        # the list stays within one text reply (~2048 bytes, WECHAT-PLATFORM.md §7.5)


def _guide(ctx):
    """(staff, None) for an active guide, else (None, why not)."""
    staff = active_staff(ctx.db, ctx.fan.member_id)
    if staff is None:
        return None, GUIDES_ONLY
    if GUIDE not in staff.role_list:
        return None, NOT_GUIDE
    return staff, None


@router.text("问卷", "调查问卷", "发问卷")
def start(ctx, msg):
    """Lists the surveys the guide may send now, numbered."""
    staff, why = _guide(ctx)
    if staff is None:
        return why
    surveys = catalog.open_for(ctx.db, staff, ctx.now)
    if not surveys:
        return NONE_OPEN
    ctx.conv.data = {"surveys": [s.id for s in surveys]}
    lines = [f"{n}. {s.title}" + (f"（完成得 {s.points} 积分）" if s.points else "") for n, s in enumerate(surveys, 1)]
    return Turn("请回复编号选择要发送的问卷：\n" + "\n".join(lines) + "\n回复“取消”退出。", PICK)


@router.step(PICK)
def picked(ctx, msg):
    """Takes the number of a listed survey and asks for the tour group."""
    ids = ctx.conv.data.get("surveys", [])
    answer = text_of(msg)
    if not answer.isdigit() or not 1 <= int(answer) <= len(ids):
        return Turn(f"请回复 1 到 {len(ids)} 之间的编号选择问卷，或回复“取消”退出。", STAY)
    ctx.conv.data["survey"] = ids[int(answer) - 1]
    return Turn(ASK_GROUP, GROUP)


@router.step(GROUP)
def grouped(ctx, msg):
    """Takes the 团号 (or 跳过) and answers with the card to forward into the group."""
    answer = text_of(msg)
    group = "" if answer in SKIP_WORDS else answer.upper()
    if group and not GROUP_CODE.match(group):
        return Turn(BAD_GROUP, STAY)
    staff, why = _guide(ctx)
    survey = ctx.db.get(Survey, ctx.conv.data.get("survey"))
    if staff is None:
        return Turn(why, END)
    if survey is None or catalog.state(survey, ctx.now) is not None:
        return Turn("这份问卷刚刚关闭或已满额，请回复“问卷”重新选择。", END)
    pages = links.page_account(ctx.db, ctx.account)
    if pages is None:
        return Turn(NO_PAGES, END)
    link = links.link_for(ctx.db, survey, staff, group, ctx.now)
    base, secret = ctx.config["PUBLIC_BASE_URL"], ctx.config["SECRET_KEY"]
    about = survey.intro or "请花一分钟填写问卷，告诉我们您的感受。"
    if survey.points:
        about += f" 完成即得 {survey.points} 积分。"
    # One article: the most a reply to a person's message may carry (WECHAT-PLATFORM.md §3.4).
    return Turn(None, END, news=Article(
        title=survey.title + (f"（团号 {group}）" if group else ""), description=about,
        url=links.survey_url(base, pages.slug, secret, link), pic_url=links.cover_url(base)))


@router.text("问卷结果", "问卷进度")
def progress(ctx, msg):
    """Per link the guide sent (a manager: the store's): opened, started, completed, the last one."""
    staff = active_staff(ctx.db, ctx.fan.member_id)
    if staff is None:
        return GUIDES_ONLY
    if MANAGER in staff.role_list:
        scope, whose = results.Scope(store_id=staff.store_id), f"{ctx.db.get(Store, staff.store_id).name}的问卷"
    elif GUIDE in staff.role_list:
        scope, whose = results.Scope(staff_id=staff.id), "您发出的问卷"
    else:
        return NOT_GUIDE
    rows = results.link_stats(ctx.db, scope)
    if not rows:
        return NO_LINKS
    base, pages = ctx.config["PUBLIC_BASE_URL"], links.page_account(ctx.db, ctx.account)
    codes = {r.survey_code for r in rows[:LINKS_SHOWN]}
    surveys = {s.code: s for s in ctx.db.scalars(select(Survey).where(Survey.code.in_(codes)))}
    lines = [f"{whose}（最近 {min(len(rows), LINKS_SHOWN)} 个链接）："]
    for n, r in enumerate(rows[:LINKS_SHOWN], 1):
        last = r.last_completed.astimezone(CST).strftime("%m-%d %H:%M") if r.last_completed else "无"
        guide = f"，{r.guide}" if MANAGER in staff.role_list else ""
        lines.append(f"{n}. {r.survey_title}（团号 {r.group or '无'}{guide}）\n"
                     f"打开 {r.opened} 人，开始 {r.started} 人，完成 {r.completed} 人，最近完成 {last}"
                     + (f"\n结果：{links.results_url(base, pages.slug, surveys[r.survey_code])}" if pages else ""))
    return "\n".join(lines)
