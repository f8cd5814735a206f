"""The agent's desk in the chat: an active agent-role staff member is always an agent (even if
also a fan of someone else's conversation). 上班 / 下班, 列表, 切换 N, 结束, 转 NAME, 资料,
快捷 N, 帮助; anything else goes to the fan of the current conversation. An agent with no
conversation at all is a member like any other: what is no command routes on.
What the queue handed the agent (their fans' messages) goes out before each answer.
"""
import re

from bot.binding.roles import MEMBER_COMMANDS, STAFF_COMMANDS
from bot.cs import relay
from bot.cs.agents import open_conversations, set_shift
from bot.cs.canned import canned, menu_text, preview
from bot.cs.labels import label
from bot.cs.lifecycle import assign_waiting, close_conversation, transfer
from bot.cs.profile import profile
from bot.dispatch import PASS, Router, text_of
from bot.protocol import PERSON_MESSAGES, kind
from handlers.cs import (AGENT_HELP, KF_ANSWER, NO_CONVERSATION, NO_CONVERSATION_OFF_SHIFT, UNSUPPORTED,
                         agent_of, body)
from menus.definition import MenuKey
from models import AgentState, Fan, Staff
from models.cs import KF

router = Router("cs_desk", when=lambda ctx: agent_of(ctx) is not None)


def command(pattern: str, flags: int = 0):
    """A desk command: a text matching `pattern` whole; its groups are the command's arguments."""
    regex = re.compile(pattern, flags)

    def register(run):
        router.on(lambda msg: kind(msg) == "text" and regex.fullmatch(text_of(msg)) is not None)(
            lambda ctx, msg: run(ctx, agent_of(ctx), *regex.fullmatch(text_of(msg)).groups()))
        return run
    return register


@router.click(MenuKey.CONTACT_AGENT)
def contact(ctx, msg):
    return "您是客服，不能给自己发起会话。回复“帮助”查看客服命令。"


@router.on(lambda msg: kind(msg) in PERSON_MESSAGES)
def catch_up(ctx, msg):
    """What the queue handed them goes before the answer, whatever the answer is."""
    relay.catch_up(ctx.db, agent_of(ctx), ctx.tell)
    return PASS


def to_the_fan(ctx, msg):
    """Anything else an agent sends goes to the fan of their current conversation."""
    staff = agent_of(ctx)
    mine = open_conversations(ctx.db, staff)
    conversation = relay.current(ctx.db, staff, mine)
    if conversation is None:
        return pick_first(ctx, mine) if mine else PASS
    if conversation.mode == KF:
        return KF_ANSWER
    push, content, media_id = body(msg)
    if push not in relay.RELAYED_KINDS or (push != "text" and not media_id):
        return UNSUPPORTED
    relay.from_agent(ctx.db, conversation, staff, push, content, media_id, ctx.now, ctx.tell)
    return None


def pick_first(ctx, mine) -> str:
    return "请先选择会话：回复“切换 N”。\n" + listing_lines(ctx, mine, None)


def no_conversation(ctx, staff) -> str:
    """None open: on shift, the next one comes by itself; off shift, how to start taking them."""
    state = ctx.db.get(AgentState, staff.id)
    return NO_CONVERSATION if state is not None and state.on_shift else NO_CONVERSATION_OFF_SHIFT


def with_current(run_on):
    """Commands about the current conversation: say how to choose one when there is none."""
    def run(ctx, staff, *args):
        mine = open_conversations(ctx.db, staff)
        conversation = relay.current(ctx.db, staff, mine)
        if conversation is None:
            return pick_first(ctx, mine) if mine else no_conversation(ctx, staff)
        return run_on(ctx, staff, conversation, *args)
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
        return no_conversation(ctx, staff)
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
        if not mine:
            return f"没有找到会话 {which}。" + no_conversation(ctx, staff)
        return f"没有找到会话 {which}，请回复“切换 N”选择下面的一个：\n{listing_lines(ctx, mine, staff)}"
    relay.choose(ctx.db, staff, chosen, ctx.now)
    lines = relay.tail(ctx.db, chosen.id)
    return f"已切换到【{label(ctx.db, chosen)}】\n" + "\n".join(lines or ["（还没有消息）"])


def finish(ctx, staff, conversation):
    close_conversation(ctx.db, conversation, ctx.now, "agent", ctx.tell, ctx.enqueue)
    drain(ctx)
    return None


def transfer_to(ctx, staff, conversation, target: str):
    answer = transfer(ctx.db, conversation, target.strip(), ctx.now, ctx.tell, ctx.enqueue)
    if conversation.agent_id != staff.id:
        relay.sweep(ctx.db, ctx.account.id, ctx.tell)   # the new agent gets the unread
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
    relay.from_agent(ctx.db, conversation, staff, "text", reply.text, None, ctx.now, ctx.tell)
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
    assign_waiting(ctx.db, ctx.account.id, ctx.now, ctx.tell, ctx.enqueue)
    relay.sweep(ctx.db, ctx.account.id, ctx.tell)


# The desk, tried in this order after catch_up: the commands, then the message for the fan.
command(r"上班")(shift_on)
command(r"下班")(shift_off)
command(r"列表")(listing)
command(r"切换\s*(#?\d{1,9})")(switch)
command(r"结束(?:会话)?")(with_current(finish))
# A space (or 给/接) after 转, so a message like "转账到了吗" still goes to the fan.
command(r"转(?:\s+|给|接)\s*(\S.{0,63})", re.S)(with_current(transfer_to))
command(r"资料")(with_current(show_profile))
command(r"快捷\s*(\d{1,3})?")(with_current(quick))
command(r"帮助|help")(agent_help)
router.on(lambda msg: kind(msg) in PERSON_MESSAGES)(to_the_fan)
