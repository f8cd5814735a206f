"""Customer service in the chat: fans ask for a person (here), agents answer in WeChat
(handlers/cs_desk.py).

  fan    人工 / 客服 / menu CONTACT_AGENT → a conversation opens: assigned (the agent is named)
         or queued (the position is told); asked again, the fan hears where it stands.
         While it is open (waiting or assigned) texts, images and voice are the conversation's:
         kept, and relayed to the agent (waiting: when one takes it). A waiting fan is told
         how to leave the queue, and 取消 / 退出 / 结束 leaves it; "结束" closes an assigned one
         (the agent is told); then a reply 1-5 within 30 minutes rates it, once the rating
         prompt has reached the fan (relay.rate); anything else routes as usual.
         Menu clicks are never caught here: the menu always works.
  agent  the desk (handlers/cs_desk.py): this router is for fans only, that one for agents.
Every reply goes out through ctx.tell as pending rows, so the person writing gets, in order, what
waited for them (their fans' messages, for an agent) and then this push's answer.

Cost on the push of someone who is not in a conversation: menu clicks and events none; a
message from a fan who is no member one indexed query (the open conversation), from a member
one more (agents.agent_for, asked once for both routers: agent_of); a text "1"-"5" one more
(the rating). A fan whose checked facts say quiet (bot/facts.py: no open conversation, no staff
row behind its member) costs none, but for 人工 and a rating.
"""
import re
import unicodedata

from bot.capabilities import Cap
from bot.cs import relay
from bot.cs.agents import agent_for
from bot.cs.lifecycle import close_conversation, open_conversation
from bot.dispatch import PASS, Router, Turn, text_of
from bot.protocol import PERSON_MESSAGES, kind
from handlers.linking import passive_note
from menus.definition import MenuKey
from models import Staff, Store
from models.cs import KF, WAITING

router = Router("cs", when=lambda ctx: agent_of(ctx) is None)     # fans; agents: handlers/cs_desk.py

ASK_WORDS = frozenset({"人工", "客服", "人工客服", "转人工", "联系客服"})
END_WORDS = frozenset({"结束", "结束会话"})
router.declare(*sorted(ASK_WORDS))
RATING = re.compile(r"([1-5])\s*(分|星)?")
LEAVE_QUEUE = "回复“取消”退出排队。"
LEAVE_WORDS = frozenset({"取消", "退出"}) | END_WORDS       # what takes a waiting fan out of the queue
WAITING_NOTE = f"已收到，客服接入后会第一时间看到您的消息，请稍候。{LEAVE_QUEUE}"
NO_CONVERSATION = "您当前没有会话。有顾客回复“人工”时，新会话会直接发给您。"
NO_CONVERSATION_OFF_SHIFT = "您当前没有会话，也不在班。回复“上班”开始接待新会话。"
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
    return ask(ctx)


def agent_of(ctx) -> Staff | None:
    """The agent this push's sender is, or None; asked once per push (both routers filter on it)."""
    if "cs_agent" not in ctx.memo:
        # Agents are staff linked through their member: a fan with no member is no agent, nor
        # one whose checked facts found no staff row behind its member (bot/facts.py): no query.
        ask = ctx.fan.member_id is not None and not quiet(ctx)
        ctx.memo["cs_agent"] = agent_for(ctx.db, ctx.fan) if ask else None
    return ctx.memo["cs_agent"]


def quiet(ctx) -> bool:
    """The checked facts say: no agent behind the sender, no open conversation (bot/facts.py)."""
    return ctx.facts is not None and ctx.facts.quiet


def body(msg) -> tuple[str, str, str | None]:
    """(kind, content, media id) of a text, image or voice push."""
    push = kind(msg)
    if push == "text":
        return push, text_of(msg), None
    content = getattr(msg, "image", None) or getattr(msg, "recognition", None) or ""
    return push, content, getattr(msg, "media_id", None)


# --- the fan --------------------------------------------------------------------------------
@router.on(lambda msg: kind(msg) in PERSON_MESSAGES)
def fan_message(ctx, msg):
    """A fan's message in (or about) a conversation; else PASS."""
    words = text_of(msg) if kind(msg) == "text" else ""
    if words in ASK_WORDS:
        return ask(ctx)
    rating = RATING.fullmatch(unicodedata.normalize("NFKC", words))
    if rating is None and quiet(ctx):
        return PASS      # no conversation to be in, no rating to give: nothing to ask the database
    conversation = relay.open_of(ctx.db, ctx.fan.id)
    if conversation is None:
        if rating and relay.rate(ctx.db, ctx.fan, int(rating.group(1)), ctx.now) is not None:
            return THANKS
        return PASS
    if words in END_WORDS or (conversation.status == WAITING and words in LEAVE_WORDS):
        # The lifecycle tells the fan (closing words, the rating prompt) and the agent.
        close_conversation(ctx.db, conversation, ctx.now, "fan", ctx.tell, ctx.enqueue)
        return None
    push, content, media_id = body(msg)
    if push not in relay.RELAYED_KINDS or (push != "text" and not media_id):
        return UNSUPPORTED
    relay.from_fan(ctx.db, conversation, push, content, media_id, ctx.now, ctx.tell)
    if conversation.status == WAITING:
        return WAITING_NOTE
    if conversation.mode == KF:
        # Once the kf session exists WeChat forwards the fan's messages to the kf tool itself;
        # one that still reaches us is handed on with the transfer reply (§3.4, §4.10).
        return Turn(transfer=conversation.kf_account or "")
    return None


def ask(ctx):
    """人工: a conversation opens (or the fan hears where theirs stands). An account without
    customer-service messages (§5.1) says its agents' answers wait for the fan's next message."""
    answer = _ask(ctx)
    if isinstance(answer, str) and not ctx.caps.allows(Cap.CUSTOM_MESSAGE):
        answer += passive_note(ctx)
    return answer


def _ask(ctx):
    opened = open_conversation(ctx.db, ctx.account, ctx.fan, ctx.now, ctx.tell, ctx.enqueue)
    conversation, agent = opened.conversation, opened.agent
    if agent is None:
        ahead = opened.position - 1 if opened.position else 0
        if opened.existing:
            return f"您已在排队，前面还有 {ahead} 位，请稍候。{LEAVE_QUEUE}"
        return f"客服繁忙，您前面还有 {ahead} 位，请稍候。接通前发送的消息会一并转给客服。{LEAVE_QUEUE}"
    relay.relay_backlog(ctx.db, conversation, ctx.tell)
    # The store is named only when it is the fan's own: the default agent (or a full store's
    # stand-in) belongs to a store the fan may never have heard of.
    store = ctx.db.get(Store, agent.store_id) if agent.store_id == ctx.fan.store_id else None
    who = f"{store.name}的客服{agent.name}" if store else f"客服{agent.name}"
    if opened.existing:
        answer = f"您正在与{who}对话，请直接发送您的问题。回复“结束”可结束会话。"
    else:
        answer = f"已为您接通{who}，请直接发送您的问题。回复“结束”可结束会话。"
    if opened.kf_account is not None:
        # kf mode: the push is answered with the transfer to that kf account; the answer
        # follows as a customer-service message (§4.10).
        return Turn(answer, transfer=opened.kf_account)
    return answer
