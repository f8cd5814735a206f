""""我的" (who I am to the bot), "帮助" by role, and "解绑" (release the bound phone)."""
from bot.binding.roles import FAN_ROLE, MEMBER_COMMANDS, STAFF_COMMANDS, active_staff, set_role
from bot.dispatch import END, Router, Turn, text_of
from bot.phones import mask_phone
from bot.points.policy import current_policy
from handlers.wording import has_menu
from menus.definition import MenuKey
from models import Member, Store
from models.org import AGENT, GUIDE, MANAGER

router = Router("me")

ROLE_NAMES = {GUIDE: "导游", AGENT: "客服", MANAGER: "店长"}
NOT_A_MEMBER = "您还没有绑定手机。回复“绑定”验证手机号，即可成为会员。"
BASE_HELP = "您可以：\n· 点击下方菜单使用各项服务\n· 随时回复“取消”退出当前操作"
BASE_HELP_NO_MENU = "您可以：\n· 随时回复“取消”退出当前操作"
FAN_COMMANDS = "\n· 回复“绑定”验证手机号，成为会员\n· 回复“人工”联系客服"
FAN_HELP = BASE_HELP + FAN_COMMANDS
FAN_HELP_NO_MENU = BASE_HELP_NO_MENU + FAN_COMMANDS   # accounts without menus (§5.1)


@router.text("我的", "我的信息")
@router.click(MenuKey.ME)
def me(ctx, msg):
    """Shows the masked phone, level, points and store; for staff also their role and store."""
    if ctx.fan.member_id is None:
        return NOT_A_MEMBER
    member = ctx.db.get(Member, ctx.fan.member_id)
    policy = current_policy(ctx.db)
    store = ctx.db.get(Store, member.home_store_id) if member.home_store_id else None
    lines = [f"手机：{mask_phone(member.phone)}", f"等级：{policy.level_name(member.level)}",
             f"积分：{member.points}", f"门店：{store.name if store else '未归属门店'}"]
    staff = active_staff(ctx.db, member.id)
    if staff is not None:
        roles = "、".join(ROLE_NAMES.get(r, r) for r in staff.role_list) or "员工"
        lines.append(f"员工：{staff.name}（{roles}），{ctx.db.get(Store, staff.store_id).name}")
    return "\n".join(lines)


@router.text("帮助", "help")
@router.click(MenuKey.HELP)
def help_text(ctx, msg):
    """Lists what this person may do: more for members, more again for active staff."""
    base = BASE_HELP if has_menu(ctx) else BASE_HELP_NO_MENU
    if ctx.fan.member_id is None:
        return FAN_HELP if has_menu(ctx) else FAN_HELP_NO_MENU
    lines = [base] + [f"· {line}" for line in MEMBER_COMMANDS]
    if active_staff(ctx.db, ctx.fan.member_id) is not None:
        lines += ["员工命令："] + [f"· {line}" for line in STAFF_COMMANDS]
    return "\n".join(lines)


@router.text("解绑", "解除绑定")
def unbind(ctx, msg):
    """Asks to confirm releasing the bound phone (so another WeChat of its owner can bind it)."""
    if ctx.fan.member_id is None:
        return NOT_A_MEMBER
    member = ctx.db.get(Member, ctx.fan.member_id)
    return Turn(f"确定解除手机 {mask_phone(member.phone)} 的绑定吗？积分和等级会保留，重新绑定即可恢复。"
                "回复“确认”解除，回复其他内容取消。", "unbind:confirm")


@router.step("unbind:confirm")
def confirm_unbind(ctx, msg):
    """Releases the phone on "确认"; anything else keeps it."""
    if text_of(msg) != "确认":
        return Turn("好的，绑定保持不变。", END)
    ctx.fan.member_id = None
    set_role(ctx.fan, FAN_ROLE, ctx.enqueue)
    return Turn("已解除绑定。需要时回复“绑定”重新绑定。", END)
