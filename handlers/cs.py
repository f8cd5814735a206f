"""Customer service in the chat (issue #6): fans ask for a person, agents answer in WeChat.

  fan    人工 / 客服 / menu CONTACT_AGENT → a conversation opens: assigned (the agent is named)
         or queued (the position is told); asked again, the fan hears where it stands.
         While it is open (waiting or assigned) texts, images and voice are the conversation's:
         kept, and relayed to the agent (waiting: when one takes it). A waiting fan is told
         how to leave the queue, and 取消 / 退出 / 结束 leaves it; "结束" closes an assigned one
         (the agent is told); then a reply 1-5 within 30 minutes rates it, once the rating
         prompt has reached the fan (relay.rate); anything else routes as usual.
         Menu clicks are never caught here: the menu always works.
  agent  an active agent-role staff member, always an agent (even if also a fan of someone
         else's conversation): 上班 / 下班, 列表, 切换 N, 结束, 转 NAME, 资料, 快捷 N, 帮助;
         anything else goes to the fan of the current conversation. An agent with no
         conversation at all is a member like any other: what is no command routes on.
Every reply goes out as pending rows (relay.Out), so the person writing gets, in order, what
waited for them (their fans' messages, for an agent) and then this push's answer.

Cost on the push of someone who is not in a conversation: menu clicks and events none; a
message from a fan who is no member one indexed query (the open conversation), from a member
one more (agents.agent_for); a text "1"-"5" one more (the rating).
"""
import re
import unicodedata

from bot.cs import relay
from bot.cs.agents import agent_for, open_conversations, set_shift
from bot.cs.canned import canned, menu_text, preview
from bot.cs.labels import label
from bot.cs.lifecycle import assign_waiting, close_conversation, open_conversation, transfer
from bot.cs.profile import profile
from bot.dispatch import PASS, Router, Turn, text_of
from bot.protocol import kind
from bot.roles import MEMBER_COMMANDS, STAFF_COMMANDS
from menus.definition import MenuKey
from models import AgentState, Fan, Staff, Store
from models.cs import KF, WAITING

router = Router("cs")

PEOPLE_MESSAGES = frozenset({"text", "image", "voice", "video", "shortvideo", "location", "link"})
ASK_WORDS = frozenset({"人工", "客服", "人工客服", "转人工", "联系客服"})
END_WORDS = frozenset({"结束", "结束会话"})
RATING = re.compile(r"([1-5])\s*(分|星)?")
LEAVE_QUEUE = "回复“取消”退出排队。"
LEAVE_WORDS = frozenset({"取消", "退出"}) | END_WORDS       # what takes a waiting fan out of the queue
WAITING_NOTE = f"已收到，客服接入后会第一时间看到您的消息，请稍候。{LEAVE_QUEUE}"
UNSUPPORTED = "暂时只能转达文字、图片和语音，请换一种方式发送。"
THANKS = "感谢您的评价！"
KF_ANSWER = "这是微信客服模式的会话，请在客服工具中回复。"
AGENT_HELP = ("客服命令：\n· 上班 / 下班：开始 / 停止接待新会话\n· 列表：我的会话和未读数\n"
              "· 切换 N：选择会话（N 为列表序号或 #编号）\n· 结束：结束当前会话\n"
              "· 转 姓名或门店：转给其他客服或门店\n· 资料：当前顾客的会员资料\n"
              "· 快捷 / 快捷 N：快捷回复列表 / 发送第 N 条\n其他消息（文字、图片、语音）都会发给当前会话的顾客。")


@router.click(MenuKey.CONTACT_AGENT)
def contact(ctx, msg):
    """The menu's 联系客服: opens (or reports) the fan's conversation."""
    if agent_of(ctx) is not None:
        return "您是客服，不能给自己发起会话。回复“帮助”查看客服命令。"
    return ask(ctx)


@router.on(lambda msg: kind(msg) in PEOPLE_MESSAGES)
def message(ctx, msg):
    """An agent's message or command; a fan's message in (or about) a conversation; else PASS."""
    if quiet(ctx, msg):
        return PASS
    staff = agent_of(ctx)
    if staff is not None:
        return agent_message(ctx, msg, staff)
    return fan_message(ctx, msg)


def quiet(ctx, msg) -> bool:
    """The checked facts say: no agent, no open conversation (bot/facts.py); and the message
    neither asks for a person nor may rate the last conversation. Then there is nothing to ask
    the database."""
    if ctx.facts is None or not ctx.facts.quiet:
        return False
    words = text_of(msg) if kind(msg) == "text" else ""
    return words not in ASK_WORDS and not RATING.fullmatch(unicodedata.normalize("NFKC", words))


def agent_of(ctx) -> Staff | None:
    # Agents are staff linked through their member: a fan with no member is no agent (no query).
    return agent_for(ctx.db, ctx.fan) if ctx.fan.member_id is not None else None


def tell(ctx):
    """The lifecycle's `tell`, as pending rows: kept in order with the relayed messages."""
    return lambda openid, text: ctx.outbox.queue(openid, [text])


def body(msg) -> tuple[str, str, str | None]:
    """(kind, content, media id) of a text, image or voice push."""
    push = kind(msg)
    if push == "text":
        return push, text_of(msg), None
    content = getattr(msg, "image", None) or getattr(msg, "recognition", None) or ""
    return push, content, getattr(msg, "media_id", None)


# --- the fan --------------------------------------------------------------------------------
def fan_message(ctx, msg):
    words = text_of(msg) if kind(msg) == "text" else ""
    if words in ASK_WORDS:
        return ask(ctx)
    conversation = relay.open_of(ctx.db, ctx.fan.id)
    if conversation is None:
        rating = RATING.fullmatch(unicodedata.normalize("NFKC", words))
        if rating and relay.rate(ctx.db, ctx.fan, int(rating.group(1)), ctx.now) is not None:
            return THANKS
        return PASS
    if words in END_WORDS or (conversation.status == WAITING and words in LEAVE_WORDS):
        # The lifecycle tells the fan (closing words, the rating prompt) and the agent.
        close_conversation(ctx.db, conversation, ctx.now, "fan", tell(ctx), ctx.enqueue)
        return None
    push, content, media_id = body(msg)
    if push not in relay.RELAYED_KINDS or (push != "text" and not media_id):
        return UNSUPPORTED
    relay.from_fan(ctx.db, conversation, push, content, media_id, ctx.now, relay.out_for(ctx))
    if conversation.status == WAITING:
        return WAITING_NOTE
    if conversation.mode == KF:
        # Once the kf session exists WeChat forwards the fan's messages to the kf tool itself;
        # one that still reaches us is handed on with the transfer reply (§3.4, §4.10).
        return Turn(transfer=conversation.kf_account or "")
    return None


def ask(ctx):
    """人工: a conversation opens (or the fan hears where theirs stands)."""
    opened = open_conversation(ctx.db, ctx.account, ctx.fan, ctx.now, tell(ctx), ctx.enqueue)
    conversation, agent = opened.conversation, opened.agent
    if agent is None:
        ahead = opened.position - 1 if opened.position else 0
        if opened.existing:
            return f"您已在排队，前面还有 {ahead} 位，请稍候。{LEAVE_QUEUE}"
        return f"客服繁忙，您前面还有 {ahead} 位，请稍候。接通前发送的消息会一并转给客服。{LEAVE_QUEUE}"
    relay.relay_backlog(ctx.db, conversation, relay.out_for(ctx))
    store = ctx.db.get(Store, agent.store_id)
    who = f"{store.name if store else ''}的客服{agent.name}"
    if opened.existing:
        answer = f"您正在与{who}对话，请直接发送您的问题。回复“结束”可结束会话。"
    else:
        answer = f"已为您接通{who}，请直接发送您的问题。回复“结束”可结束会话。"
    if opened.kf_account is not None:
        # kf mode: the push is answered with the transfer to that kf account; the answer
        # follows as a customer-service message (§4.10).
        return Turn(answer, transfer=opened.kf_account)
    return answer


# --- the agent ------------------------------------------------------------------------------
def agent_message(ctx, msg, staff: Staff):
    out = relay.out_for(ctx)
    relay.catch_up(ctx.db, staff, out)        # what the queue handed them goes before the answer
    if kind(msg) == "text":
        for pattern, command in COMMANDS:
            found = pattern.fullmatch(text_of(msg))
            if found:
                return command(ctx, staff, *found.groups())
    mine = open_conversations(ctx.db, staff)
    conversation = relay.current(ctx.db, staff, mine)
    if conversation is None:
        return pick_first(ctx, mine) if mine else PASS
    if conversation.mode == KF:
        return KF_ANSWER
    push, content, media_id = body(msg)
    if push not in relay.RELAYED_KINDS or (push != "text" and not media_id):
        return UNSUPPORTED
    relay.from_agent(ctx.db, conversation, staff, push, content, media_id, ctx.now, out)
    return None


def pick_first(ctx, mine) -> str:
    return "请先选择会话：回复“切换 N”。\n" + listing_lines(ctx, mine, None)


def with_current(command):
    """Commands about the current conversation: say how to choose one when there is none."""
    def run(ctx, staff, *args):
        mine = open_conversations(ctx.db, staff)
        conversation = relay.current(ctx.db, staff, mine)
        if conversation is None:
            return pick_first(ctx, mine) if mine else "您当前没有会话。"
        return command(ctx, staff, conversation, *args)
    return run


def shift_on(ctx, staff):
    set_shift(ctx.db, staff, True, ctx.now, ctx.enqueue)
    drain(ctx)
    mine = open_conversations(ctx.db, staff)
    return "已上班，开始接待新会话。" + (f"\n{listing_lines(ctx, mine, staff)}" if mine else "")


def shift_off(ctx, staff):
    set_shift(ctx.db, staff, False, ctx.now, ctx.enqueue)
    left = len(open_conversations(ctx.db, staff))
    more = f"您还有 {left} 个会话，处理完请回复“结束”。" if left else ""
    return "已下班，不再接新会话。" + more


def listing(ctx, staff):
    mine = open_conversations(ctx.db, staff)
    if not mine:
        return "您当前没有会话。"
    return listing_lines(ctx, mine, staff) + "\n回复“切换 N”选择会话。"


def listing_lines(ctx, mine, staff: Staff | None) -> str:
    current = relay.current(ctx.db, staff, mine) if staff is not None else None
    unread = relay.unread_counts(ctx.db, [c.id for c in mine])
    lines = [f"{n}. {label(ctx.db, c)}，未读 {unread.get(c.id, 0)}" + ("（当前）" if c is current else "")
             for n, c in enumerate(mine, 1)]
    if staff is not None:
        # Shown now (the relayed messages ride in this same reply, before the list): what the
        # agent has seen is no longer unread on the next 列表.
        for conversation in mine:
            relay.mark_read(ctx.db, conversation.id, staff.id, ctx.now)
    return f"您的会话（{len(mine)}）：\n" + "\n".join(lines)


def switch(ctx, staff, which: str):
    mine = open_conversations(ctx.db, staff)
    number = int(which.lstrip("#"))
    by_id = next((c for c in mine if c.id == number), None)
    chosen = by_id if which.startswith("#") or not 1 <= number <= len(mine) else mine[number - 1]
    if chosen is None:
        return f"没有找到会话 {which}。" + (f"\n{listing_lines(ctx, mine, staff)}" if mine else "")
    relay.choose(ctx.db, staff, chosen, ctx.now)
    lines = relay.tail(ctx.db, chosen.id)
    return f"已切换到【{label(ctx.db, chosen)}】\n" + "\n".join(lines or ["（还没有消息）"])


def finish(ctx, staff, conversation):
    close_conversation(ctx.db, conversation, ctx.now, "agent", tell(ctx), ctx.enqueue)
    drain(ctx)
    return None


def transfer_to(ctx, staff, conversation, target: str):
    answer = transfer(ctx.db, conversation, target.strip(), ctx.now, tell(ctx), ctx.enqueue)
    if conversation.agent_id != staff.id:
        relay.sweep(ctx.db, ctx.account.id, relay.out_for(ctx))   # the new agent gets the unread
    return answer


def show_profile(ctx, staff, conversation):
    return profile(ctx.db, ctx.db.get(Fan, conversation.fan_id))


def quick(ctx, staff, conversation, number: str | None):
    store_id = conversation.store_id or staff.store_id
    if number is None:
        return menu_text(ctx.db, store_id)
    reply = canned(ctx.db, store_id, int(number))
    if conversation.mode == KF:
        return KF_ANSWER
    if reply is None:
        return f"没有第 {int(number)} 条快捷回复。\n" + menu_text(ctx.db, store_id)
    relay.from_agent(ctx.db, conversation, staff, "text", reply.text, None, ctx.now, relay.out_for(ctx))
    return f"已发送快捷回复 {reply.number}：{preview(reply.text)}"


def agent_help(ctx, staff):
    """Every desk command, on shift or off (off shift: how to start), then the staff and member
    commands an agent also has."""
    state = ctx.db.get(AgentState, staff.id)
    off = "" if (state and state.on_shift) else "您现在不在班，回复“上班”开始接待。\n"
    member = [f"· {line}" for line in MEMBER_COMMANDS if "人工" not in line]
    staff_lines = [f"· {line}" for line in STAFF_COMMANDS if "上班" not in line and "帮助" not in line]
    return (off + AGENT_HELP + "\n员工功能：\n" + "\n".join(staff_lines)
            + "\n会员功能：\n" + "\n".join(member))


def drain(ctx) -> None:
    """Freed capacity goes to the queue now, in this push (the lifecycle's drain job then finds
    nothing left), and what the newly assigned fans wrote while waiting goes to their agents."""
    assign_waiting(ctx.db, ctx.account.id, ctx.now, tell(ctx), ctx.enqueue)
    relay.sweep(ctx.db, ctx.account.id, relay.out_for(ctx))


COMMANDS = [
    (re.compile(r"上班"), shift_on),
    (re.compile(r"下班"), shift_off),
    (re.compile(r"列表"), listing),
    (re.compile(r"切换\s*(#?\d{1,9})"), switch),
    (re.compile(r"结束(?:会话)?"), with_current(finish)),
    # A space (or 给/接) after 转, so a message like "转账到了吗" still goes to the fan.
    (re.compile(r"转(?:\s+|给|接)\s*(\S.{0,63})", re.S), with_current(transfer_to)),
    (re.compile(r"资料"), with_current(show_profile)),
    (re.compile(r"快捷\s*(\d{1,3})?"), with_current(quick)),
    (re.compile(r"帮助|help"), agent_help),
]
