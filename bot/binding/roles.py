"""Who a fan is to the bot (粉丝, 会员, 员工), and the menu-role tag that shows it on WeChat.

A fan carries exactly one menu-role tag, applied last, because a conditional menu matches the
last tag applied to a fan (WECHAT-PLATFORM.md §4.5/§4.6, ANCHORS.md §3.10). The fan row says which
tag it should carry; a job (workers/tags.py) makes WeChat agree, whatever happened in between.
"""
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Fan, Staff
from models.tag import FAN_ROLE, MEMBER_ROLE, STAFF_ROLE

__all__ = ["FAN_ROLE", "MEMBER_ROLE", "STAFF_ROLE", "MEMBER_COMMANDS", "STAFF_COMMANDS", "active_staff",
           "role_for", "set_role"]

# What "帮助" lists for each role (features add their commands as they arrive).
MEMBER_COMMANDS = ["回复“积分”查看积分和等级，“积分明细”查看明细", "回复“签到”每日签到",
                   "回复“我的”查看会员信息", "回复“人工”联系客服"]
STAFF_COMMANDS = ["回复“我的”查看员工信息", "回复“海报”获取带您专属二维码的推广海报",
                  "店长回复“拉新”查看本店近 30 天的拉新图表",
                  "导游回复“问卷”向游客发送问卷，“问卷结果”查看填写进度",
                  "回复“帮助”查看可用的员工命令", "客服：回复“上班”开始接待人工会话，“下班”停止"]


def set_role(fan: Fan, role: str, enqueue) -> None:
    """Give the fan a menu role; the tag sync job follows the commit (safe to ask twice). It
    mirrors all the fan's tags and applies the role tag last (bot/tags/fan_tags.py has the policy)."""
    if fan.role_tag == role:
        return
    fan.role_tag = role
    # `high`: the new menu should be there when the person looks again (seconds, not minutes).
    enqueue("workers.tags.sync_fan_tags", fan.id, queue="high", retry=(5, 15, 60))


def active_staff(db: Session, member_id: int | None) -> Staff | None:
    """The active roster entry linked to this member (deactivation takes effect at once)."""
    if member_id is None:
        return None
    return db.scalar(select(Staff).where(Staff.member_id == member_id, Staff.active))


def role_for(db: Session, fan: Fan) -> str:
    if fan.member_id is None:
        return FAN_ROLE
    return STAFF_ROLE if active_staff(db, fan.member_id) else MEMBER_ROLE
