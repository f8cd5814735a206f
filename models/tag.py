"""WeChat tags we created, per account: names to WeChat's ids (the tags API wants ids)."""
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, intpk

# Exactly one menu-role tag per fan, applied last: conditional menus match the last-applied tag
# (WECHAT-PLATFORM.md §4.5, ANCHORS.md §3.10).
FAN_ROLE, MEMBER_ROLE, STAFF_ROLE = "粉丝", "会员", "员工"
ROLE_TAGS = (FAN_ROLE, MEMBER_ROLE, STAFF_ROLE)


class WechatTag(Base):
    __tablename__ = "wechat_tag"
    __table_args__ = (UniqueConstraint("account_id", "name"),)
    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(30))
    wx_id: Mapped[int]
