"""One WeChat official account served by this deployment."""
from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, intpk, timestamp

SERVICE = "service"
SUBSCRIPTION = "subscription"


class Account(Base):
    """An official account: its type and verification decide what the bot may call (§5.1)."""

    __tablename__ = "account"
    id: Mapped[intpk]
    slug: Mapped[str] = mapped_column(String(32), unique=True)
    type: Mapped[str] = mapped_column(String(16))          # SERVICE | SUBSCRIPTION
    verified: Mapped[bool] = mapped_column(default=True)
    appid: Mapped[str] = mapped_column(String(32), unique=True)
    secret: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(String(32))
    # The console's EncodingAESKey; the previous one is kept so pushes encrypted with it
    # still decrypt during a rotation (WECHAT-PLATFORM.md §1.7).
    aes_key: Mapped[str | None] = mapped_column(String(43))
    previous_aes_key: Mapped[str | None] = mapped_column(String(43))
    original_id: Mapped[str | None] = mapped_column(String(32))   # gh_..., the ToUserName of pushes
    name: Mapped[str] = mapped_column(String(64), default="")
    welcome_text: Mapped[str] = mapped_column(Text, default="")
    # Template used to tell someone "you have N new messages" when no other channel is open.
    notice_template_id: Mapped[str | None] = mapped_column(String(64))
    # Customer service: "relay" (agents answer through the bot) or "kf" (WeChat's own
    # customer-service system takes the fan, §4.10).
    cs_mode: Mapped[str] = mapped_column(String(8), default="relay")
    created_at: Mapped[timestamp]

    def __repr__(self) -> str:  # never the secret, token or AES key
        return f"<Account {self.slug} {self.type}{'' if self.verified else ' unverified'} {self.appid}>"
