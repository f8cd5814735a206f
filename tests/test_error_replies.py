"""Every error reply the bot can give in the chat, each with its way forward (issue #14).

ERRORS is the table: a fragment of the reply as the source writes it, when a person gets it, and
the words in it that say what to do next. The scan below reads every Chinese string of handlers/,
bot/ and workers/ that reads like an error ("不", "没有", "无法", "失败", ...): each must be a row
of ERRORS, with its way forward in the same string, or of NOT_ERRORS, with the reason it is not an
error reply. A new error reply without a way forward fails here. The sandbox (WeChat's side) and
bot/mall (H5 page messages, not chat replies) are not scanned. Transcripts for the replies that
used to leave people stuck close the file."""
import ast
import re
from pathlib import Path

from sqlalchemy import update


from bot.cs.lifecycle import transfer
from handlers.common import UNKNOWN_MENU
from handlers.cs import NO_CONVERSATION, NO_CONVERSATION_OFF_SHIFT
from models import Account, Conversation
from models.cs import CLOSED
from tests.binding_support import bind, roster

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u4e00-\u9fff]")
ERRORISH = re.compile(r"不|无法|没有|失败|错误|抱歉|未|已结束|过期|暂|没|找不到|请先|只能|失效|已满|超过|太")

# (fragment of the reply, when, the way forward it names)
ERRORS = [
    ("手机号格式不对", "a phone-shaped text that is no mainland mobile, phone step", "或回复“取消”退出"),
    ("验证码已过期", "the code step after 5 minutes", "请回复“重发”获取新的验证码"),
    ("验证码错误次数过多", "the fifth wrong code", "需要时请重新回复“绑定”"),
    ("验证码不对，请再输入一次", "a wrong code, attempts left", "请再输入一次"),
    ("没收到可回复“重发”", "the code step reminder", "回复“重发”"),
    ("没收到可在 60 秒后回复“重发”", "a code was sent", "回复“重发”"),
    ("有推荐人吗？", "after binding: the optional referrer question", "没有请回复“跳过”"),
    ("没太明白您的意思。请点击下方菜单", "nothing understood the message (account with menus)", "或回复“帮助”"),
    ("没太明白您的意思。回复“帮助”", "nothing understood the message (no menus)", "回复“帮助”"),
    ("这个功能还在准备中", "a menu key no feature handles", "回复“帮助”查看现在可以做什么"),
    ("您当前没有会话。有顾客", "an agent on shift: 列表/结束/资料 with no conversation", "新会话会直接发给您"),
    ("您当前没有会话，也不在班", "an agent off shift: 列表/结束/资料 with no conversation", "回复“上班”"),
    ("暂时只能转达文字、图片和语音", "a fan or agent sends a file, location, video...", "请换一种方式发送"),
    ("您是客服，不能给自己发起会话", "an agent sends 人工", "回复“帮助”查看客服命令"),
    ("请先选择会话", "an agent with several conversations, none current", "回复“切换 N”"),
    ("没有找到会话 …，请回复“切换 N”", "切换 with a number not in the list", "请回复“切换 N”"),
    ("没有找到会话 …。", "切换 when the agent has none (no_conversation follows)", "没有找到会话"),
    ("没有第 … 条快捷回复", "快捷 N past the list (the list follows)", "没有第"),
    ("您现在不在班，回复“上班”", "an off-shift agent's 帮助", "回复“上班”开始接待"),
    ("您还没有绑定手机", "我的 from a fan who is no member", "回复“绑定”"),
    ("您还不是会员", "积分/签到 from a fan who is no member", "回复“绑定”"),
    ("签到活动暂未开放", "签到 with no sign-in rule in force", "回复“帮助”查看其他服务"),
    ("签到不再另计", "签到 after a higher award today", "明天再来签到"),
    ("还没有积分记录", "积分明细 with no entries", "回复“帮助”"),
    ("您的海报正在生成或刚刚已发出", "海报 twice within a minute", "请稍候查看"),
    ("本公众号不能生成带参数二维码（微信只向", "海报 on an account without parametric codes",
     "where_codes_are_made: 请关注「…」… or 请联系管理员开通已认证的服务号"),
    ("拉新图表正在生成或刚刚已发出", "拉新 twice within a minute", "请稍候查看"),
    ("还没有快捷回复", "快捷 with no canned replies", "请管理员用 cs canned add 添加"),
    ("已为您转接客服", "kf agent offline (61459), another took it", "已为您转接客服"),
    ("已改由客服", "kf agents offline, relay agent took it", "请直接发送您的问题"),
    ("您已进入排队", "kf agents offline, nobody free", "客服接入后会通知您"),
    ("会话长时间没有新消息，已自动结束", "an idle conversation closed (fan)", "需要时请再回复“人工”"),
    ("这个会话已经结束，无法转接", "转 on a conversation closed meanwhile", "回复“列表”"),
    ("… 现在不在班，…", "转 to an agent off shift", "NOT_TRANSFERRED: 可以转给其他客服或门店"),
    ("… 已满（…/…），…", "转 to an agent who is full", "NOT_TRANSFERRED: 可以转给其他客服或门店"),
    ("会话未转接，仍由您接待", "转 to an agent off shift or full, a store with nobody free", "可以转给其他客服或门店"),
    ("找不到叫“…”的客服或门店", "转 to an unknown name", "例如：转 张三"),
    ("会话已超过 … 分钟没有新消息", "idle close of an assigned conversation (fan)", "需要时请再回复“人工”"),
    ("排队已超过 … 分钟", "idle close of a waiting conversation (fan)", "需要时请再回复“人工”"),
    ("抱歉，刚才没有处理好", "an unexpected error in the webhook (rolled back)", "请稍后再试"),
    ("（已过期，未能送达，请重新获取）", "a pending message that expired before it could be delivered", "请重新获取"),
    ("本公众号没有生成带参数二维码或上传图片的权限", "poster job: 48001", "请联系管理员"),
    ("服务器的 IP 未加入公众号白名单", "poster/chart job: 40164", "请联系管理员"),
    ("海报图片超过了微信的大小限制", "poster job: 40009", "请联系管理员更换门店背景图"),
    ("本公众号不能生成带参数二维码（仅认证服务号可以）", "poster job on an account without codes",
     "where_codes_are_made (appended by _fail)"),
    ("请稍后再发送“海报”重试", "poster job: any other WeChat error", "请稍后再发送“海报”重试"),
    ("您的员工身份已失效", "poster job for a deactivated staff member", "请联系门店店长"),
    ("本公众号没有上传图片的权限", "拉新 chart job: 48001", "请联系管理员"),
    ("您已不是在册的店长", "拉新 chart job for a former manager", "请联系管理员"),
    ("请稍后再发送“拉新”重试", "拉新 chart job: any other WeChat error", "请稍后再发送“拉新”重试"),
    ("本公众号暂时不能提供这项服务", "服务号/商城 when no service account can take linked fans", "请联系门店工作人员"),
    ("这个二维码已过期", "a link code past its hour", "回复“服务号”获取新的二维码"),
    ("没有找到这个关联二维码", "a link scene with no token behind it", "回复“服务号”获取新的二维码"),
    ("这个二维码不是本公众号的", "a link code of another service account", "回复“服务号”获取新的二维码"),
    ("无法自动合并", "a link between two members bound with different phones", "请回复“人工”{agent}"),
    ("无法再关联", "a link to a member another fan of the service account holds", "请回复“人工”{agent}"),
    ("本公众号只能在您发消息时回复", "人工 on an account without customer-service messages (appended)",
     "客服的回复会在您下次发消息时一并送达"),
    ("这个二维码已失效。", "the link card's page after its code was used or expired", "回复“服务号”获取新的二维码"),
    ("服务号二维码暂时没有生成成功", "link-code job: WeChat refused the code", "请稍后再回复“服务号”"),
    ("报表图表没有生成成功", "报表 chart job: a WeChat error", "请稍后再发送“报表”重试"),
    ("现在没有可以发送的问卷", "问卷 from a guide when no survey is open", "开放后回复“问卷”即可发送"),
    ("团号只能包含字母、数字", "a group code that is not one", "请重新输入，没有团号请回复“跳过”"),
    ("问卷页面需要已认证的服务号", "问卷 on a deployment without a verified service account", "请联系管理员"),
    ("您还没有发出问卷", "问卷结果 from a guide who has sent none", "回复“问卷”选择问卷并获取链接"),
    ("这份问卷刚刚关闭或已满额", "the survey closed or filled between the list and the pick", "请回复“问卷”重新选择"),
]
# Replies composed of two strings: the way forward is added where the reply is built.
COMPOSED = {"本公众号不能生成带参数二维码（微信只向", "本公众号不能生成带参数二维码（仅认证服务号可以）",
            "没有找到会话 …。", "… 现在不在班，…", "… 已满（…/…），…", "没有第 … 条快捷回复", "已为您转接客服"}

# (fragment, why it is not an error reply)
NOT_ERRORS = [
    ("这不是手机号", "part of the referrer answer: 请再输入一次 … 或回复“跳过”"),
    ("不能填写自己的手机号", "part of the referrer answer"),
    ("没有找到这个手机号对应的会员", "part of the referrer answer"),
    ("本次不记录推荐人", "the optional question ends after a second try: binding is done, nothing is left to do"),
    ("客服命令：", "the agent's help"),
    ("已下班，不再接新会话", "confirms 下班"),
    ("，未读 ", "a line of the agent's list"),
    ("（还没有消息）", "a new conversation's empty history"),
    ("未归属门店", "a label"),
    ("好的，绑定保持不变", "confirms keeping the binding"),
    ("客服已结束本次会话", "closing notice; the rating prompt follows"),
    ("您已结束本次会话", "closing notice; the rating prompt follows"),
    ("本次会话已结束", "closing notice (operator)"),
    ("会话 {label} 已结束", "notice to the agent"),
    ("顾客已结束会话", "notice to the agent"),
    ("会话 {label} 长时间没有新消息", "notice to the agent"),
    ("没有在班的客服", "part of the not-transferred answer"),
    ("都已满", "part of the not-transferred answer"),
    ("未绑定手机，还不是会员", "the agent's 资料 of a fan"),
    ("还在等您回复", "reminder to an agent"),
    ("分钟未回复，已转给", "notice to the agent who lost a conversation"),
    ("分钟未回复，转给您", "notice to the agent who got one"),
    ("余额不足，实扣", "a ledger line"),
    ("未分组", "a stage label"),
    ("还没有人扫码关注", "the 拉新 chart's empty state (a report, not an error)"),
    ("抱歉，海报没有生成成功：", "the frame of the poster job's failures (the reasons are rows)"),
    ("抱歉，拉新图表没有生成成功：", "the frame of the chart job's failures (the reasons are rows)"),
    ("二维码已失效", "the link card page's title (its body names the way forward)"),
    ("客服：这段时间没有会话", "a line of a store manager's 报表 (a report, not an error)"),
    ("积分 发放/消耗/过期", "the points report's chart title (reports CLI, not a chat reply)"),
    ("请回复本次的团号", "the group-code question: 没有团号请回复“跳过”"),
    ("跳过 无 没有", "the answers that skip the group code"),
    ("此题只能填一个答案", "a survey page's field message: the page is shown again to correct it"),
    ("未登记", "the phone column of a survey completion by a guest who gave none"),
]


def scanned_strings():
    """(path:line, text) of every errorish Chinese string; f-strings with … for their fields."""
    for root in ("handlers", "bot", "workers"):
        for path in sorted((ROOT / root).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel.parts[:2] in (("bot", "sandbox"), ("bot", "mall")):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            skip = {id(n.body[0].value) for n in ast.walk(tree)
                    if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
                    and isinstance(n.body[0], ast.Expr)}
            skip |= {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
            for node in ast.walk(tree):
                if id(node) in skip:
                    continue
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    text = node.value
                elif isinstance(node, ast.JoinedStr):
                    text = "".join(v.value if isinstance(v, ast.Constant) else "…" for v in node.values)
                else:
                    continue
                if CJK.search(text) and ERRORISH.search(text):
                    yield f"{rel.as_posix()}:{node.lineno}", text


def test_every_error_reply_is_in_the_table_with_its_way_forward():
    unknown, stuck, matched = [], [], set()
    for where, text in scanned_strings():
        rows = [row for row in ERRORS if row[0] in text]
        if not rows:
            if not any(fragment in text for fragment, _ in NOT_ERRORS):
                unknown.append(f"{where}: {text!r}")
            continue
        matched.update(row[0] for row in rows)
        for fragment, _, way in rows:
            if fragment not in COMPOSED and way not in text:
                stuck.append(f"{where}: {text!r} lacks {way!r}")
    assert unknown == [], "add these to ERRORS (with a way forward) or NOT_ERRORS:\n" + "\n".join(unknown)
    assert stuck == []
    assert {row[0] for row in ERRORS} - matched == set(), "rows of ERRORS no longer in the code"


# --- the replies that used to leave people stuck, as transcripts -------------------------------

def test_an_unready_menu_button_points_to_help(phone):
    alice = phone("alice")
    alice.follow()
    assert alice.click("NOT_BUILT_YET") == UNKNOWN_MENU
    assert "回复“帮助”" in UNKNOWN_MENU and alice.text("帮助").startswith("您可以：")


def test_an_agent_with_no_conversation_is_told_how_new_ones_come(org, db):
    zhang = org.agent("张三", "门店A")
    assert zhang.text("列表") == NO_CONVERSATION
    zhang.text("下班")
    assert zhang.text("列表") == NO_CONVERSATION_OFF_SHIFT
    assert zhang.text("上班").startswith("已上班")
    assert zhang.text("结束") == NO_CONVERSATION


def test_a_transfer_of_an_ended_conversation_points_to_the_list(org, db, app, jobs):
    """The conversation closes between the agent's choice and 转 (another push won the lock)."""
    org.agent("张三", "门店A")
    org.agent("李四", "门店A")
    alice = org.fan("alice", "门店A")
    alice.text("人工")
    conversation = org.conversation(alice)
    db.execute(update(Conversation).where(Conversation.id == conversation.id).values(status=CLOSED))
    db.commit()
    answer = transfer(db, conversation, "李四", conversation.last_activity_at, lambda *a: None,
                      lambda *a, **k: None)
    assert answer == "这个会话已经结束，无法转接。回复“列表”查看您还在进行的会话。"


def test_a_poster_job_on_an_account_without_codes_says_where_to_get_one(app, phone, db, jobs, world):
    """The account lost its verification after 海报 was queued: the job says why and what next."""
    roster(db, "13900000001", name="王导")
    wang = phone("wang")
    wang.follow()
    bind(wang, app, jobs, "13900000001")
    jobs.run_all()
    assert wang.text("海报").startswith("海报生成中")
    db.execute(update(Account).values(verified=False))
    db.commit()
    jobs.run_all()
    # An unverified account sends no customer-service message: the notice rides the next reply.
    assert world.messages_to(wang.account.appid, wang.openid) == []
    assert ("抱歉，海报没有生成成功：本公众号不能生成带参数二维码（仅认证服务号可以）。请联系管理员开通已认证的服务号。"
            in wang.text("你好"))


def error_table() -> str:
    """The table of the note: reply | when | way forward."""
    return "\n".join(f"{fragment} | {when} | {way}" for fragment, when, way in ERRORS)
