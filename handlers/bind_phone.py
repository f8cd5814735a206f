"""Binding a phone in the chat: a fan becomes a member, or staff when the phone is on the roster.

  绑定 / 绑定手机 / menu BIND_PHONE ─→ bind:phone (already bound: told which phone)
  Only an answer answers a step: at bind:phone something shaped like a phone, at bind:code
  something shaped like a code; anything else (积分, 帮助, a greeting) gets a reminder of the
  step and its ways out, and costs nothing.
  bind:phone     a mainland mobile number ─→ code sent ─→ bind:code
                 phone-shaped but no mobile number → asked again; held by another fan of this account, or a daily SMS
                 cap reached → told why, END
  bind:code      the code → bound: staff → welcome with their commands, END
                                   member → what they got ─→ bind:referrer
                 重发 → a new code, not before 60 s; a wrong 6 digits → asked again, the 5th ends;
                 expired (5 min) → told to send 重发
  bind:referrer  (optional) a member's phone → the referral, the referrer told; 跳过 → END;
                 unknown / own phone → one more try, then END without a referral; anything
                 that is no phone yields: the step ends and the push routes as usual
  取消 (or any menu click) leaves at every step (bot/dispatch.py).
"""
import re
import unicodedata

from bot.binding.membership import bind, holder, refer
from bot.binding.roles import STAFF_COMMANDS
from bot.binding.verify import Codes
from bot.dispatch import END, PASS, Router, STAY, Turn, text_of
from bot.linking.hq import display_name, is_subsidiary, service_account
from bot.linking.join import record_phone_link
from bot.phones import mask_phone, normalize
from bot.points.ledger import Book
from bot.points.notify import tell_members
from menus.definition import MenuKey
from models import Account, Member

router = Router("bind_phone")

ASK_PHONE = "请输入您的手机号（中国大陆 11 位手机号），回复“取消”退出。"
ASK_REFERRER = "有推荐人吗？请输入推荐人的手机号，没有请回复“跳过”。"
MAX_WRONG = 5
AT_PHONE = "正在绑定手机：请输入 11 位中国大陆手机号，回复“取消”退出。"
AT_CODE = "正在绑定手机：请回复 6 位验证码，回复“重发”再发一次，回复“取消”退出。"
BAD_PHONE = "手机号格式不对，请输入 11 位中国大陆手机号（如 13800000000），或回复“取消”退出。"
# What a phone number looks like as people type it: digits with spaces, dashes, brackets, +86.
PHONE_SHAPED = re.compile(r"\+?[\d\s\-()]{5,20}")
CODE_SHAPED = re.compile(r"\d{6}")
TAKEN = ("手机号 {phone} 已绑定本公众号的另一个微信。如需改绑，请用原微信回复“解绑”，"
         "或联系客服核实身份后办理。")


def plain(typed: str) -> str:
    """Full-width digits as ASCII (a Chinese keyboard may send either)."""
    return unicodedata.normalize("NFKC", typed)


def phone_shaped(typed: str) -> bool:
    return PHONE_SHAPED.fullmatch(plain(typed)) is not None and any(c.isdigit() for c in typed)


def code_of(typed: str) -> str | None:
    """The 6 digits of something shaped like a code ("123 456" too), else None."""
    digits = re.sub(r"\s", "", plain(typed))
    return digits if CODE_SHAPED.fullmatch(digits) else None


def _codes(ctx) -> Codes:
    return Codes(ctx.redis, ctx.account.slug, ctx.openid, ctx.now)


@router.text("绑定", "绑定手机", "绑定手机号")
@router.click(MenuKey.BIND_PHONE)
def start(ctx, msg):
    """Asks for the phone number, or says which phone is bound already."""
    if ctx.fan.member_id is not None:
        member = ctx.db.get(Member, ctx.fan.member_id)
        return f"您已绑定手机 {mask_phone(member.phone)}。回复“我的”查看会员信息。"
    return Turn(ASK_PHONE, "bind:phone")


@router.step("bind:phone")
def got_phone(ctx, msg):
    """Checks the number and sends it a code."""
    typed = text_of(msg)
    if not phone_shaped(typed):
        return Turn(AT_PHONE, STAY)
    phone = normalize(plain(typed))
    if phone is None:
        return Turn(BAD_PHONE, STAY)
    if holder(ctx.db, ctx.account.id, phone, ctx.fan) is not None:
        return Turn(TAKEN.format(phone=mask_phone(phone)), END)
    if _codes(ctx).live_for(phone):       # started over: the code already sent still works
        ctx.conv.data.update(phone=phone)
        return Turn(f"验证码已发送至 {mask_phone(phone)}，请回复收到的 6 位验证码；没收到可回复“重发”。",
                    "bind:code")
    return _send(ctx, phone, first=True)


def _send(ctx, phone: str, first: bool) -> Turn:
    issued = _codes(ctx).issue(phone)
    if issued.sent_at is None:
        return Turn(issued.refusal, END if first and not issued.wait else STAY)
    ctx.conv.data.update(phone=phone)
    # The job carries no code (rq logs arguments); it sends the one in Redis.
    ctx.enqueue("workers.sms.send_code", ctx.account.slug, ctx.openid, issued.sent_at, queue="high",
                retry=(5, 15, 60))
    return Turn(f"验证码已发送至 {mask_phone(phone)}，5 分钟内有效。请回复 6 位验证码；"
                "没收到可在 60 秒后回复“重发”。", "bind:code")



@router.step("bind:code")
def got_code(ctx, msg):
    """Checks the code; the right one binds the phone."""
    typed = text_of(msg)
    codes = _codes(ctx)
    phone = ctx.conv.data.get("phone")
    if typed == "重发":
        wait = codes.wait_before_resend()
        if wait:
            return Turn(f"请 {wait} 秒后再回复“重发”。", STAY)
        return _send(ctx, phone, first=False)
    code = code_of(typed)
    if code is None:
        return Turn(AT_CODE, STAY)
    outcome = codes.check(code)
    if outcome == "expired":
        return Turn("验证码已过期，请回复“重发”获取新的验证码。", STAY)
    if outcome == "wrong":
        wrong = ctx.conv.data.get("wrong", 0) + 1
        ctx.conv.data["wrong"] = wrong
        if wrong >= MAX_WRONG:
            codes.clear()
            return Turn("验证码错误次数过多，本次绑定已结束。需要时请重新回复“绑定”。", END)
        return Turn(f"验证码不对，请再输入一次（还可以试 {MAX_WRONG - wrong} 次）。", STAY)
    return _bound(ctx, phone)


def _bound(ctx, phone: str) -> Turn:
    book = Book(ctx.db, ctx.now)
    result = bind(book, ctx.fan, phone, ctx.enqueue)
    tell_members(book, ctx)
    if result.member is None:
        return Turn(TAKEN.format(phone=mask_phone(phone)), END)
    if result.staff is not None:
        commands = "\n".join(f"· {line}" for line in STAFF_COMMANDS)
        return Turn(f"{result.staff.name}，您好！员工身份验证成功。您可以：\n{commands}", END)
    if not result.new:                   # a member already (another account, or after 解绑)
        greeting = "欢迎回来！已为您保留原会员的积分和等级。" if result.returning else "绑定成功，欢迎回来！"
        others = record_phone_link(ctx.db, ctx.fan, ctx.now)
        if others:
            names = "、".join(sorted({display_name(ctx.db.get(Account, f.account_id)) for f in others}))
            greeting = (f"绑定成功！您在「{names}」已是会员（同一手机号），这里与那里是同一会员，"
                        f"积分和等级通用，当前积分 {result.member.points}。")
        return Turn(f"{greeting}回复“积分”查看积分，回复“我的”查看会员信息。", END)
    return Turn(f"绑定成功，您已成为会员！回复“积分”查看积分，回复“我的”查看会员信息。{_offer(ctx)}"
                f"\n\n{ASK_REFERRER}", "bind:referrer")


def _offer(ctx) -> str:
    """On a subsidiary's account: where the service account is (the card comes on 服务号)."""
    hq = service_account(ctx.db, ctx.config) if is_subsidiary(ctx.account) else None
    if hq is None:
        return ""
    return f"\n回复“服务号”关注「{display_name(hq)}」，积分商城和人工客服都在那里，积分通用。"


@router.step("bind:referrer")
def got_referrer(ctx, msg):
    """Records who referred the new member (once), or moves on."""
    typed = text_of(msg)
    if typed == "跳过":
        return Turn("好的，已跳过。", END)
    if not phone_shaped(typed):
        return PASS              # a command, a keyword, a greeting: the question gives way
    phone = normalize(plain(typed))
    book = Book(ctx.db, ctx.now)
    member = ctx.db.get(Member, ctx.fan.member_id)
    done = refer(book, member, phone) if phone else None
    tell_members(book, ctx)
    if done is not None:
        return Turn(f"已记录您的推荐人 {mask_phone(phone)}，谢谢！", END)
    why = ("这不是手机号" if phone is None else "不能填写自己的手机号" if phone == member.phone
           else "没有找到这个手机号对应的会员")
    if ctx.conv.data.get("referrer_tried"):
        return Turn(f"{why}，本次不记录推荐人。", END)
    ctx.conv.data["referrer_tried"] = True
    return Turn(f"{why}，请再输入一次推荐人的手机号，或回复“跳过”。", STAY)
