"""Which account is the group's service account: where subscription fans are led."""
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.capabilities import Cap, for_account
from models import Account
from models.account import SERVICE, SUBSCRIPTION


def service_account(db: Session, config) -> Account | None:
    """The account named by SERVICE_ACCOUNT, else the first verified service account. Only an
    account that may make parametric QR codes can take linked fans (WECHAT-PLATFORM.md §5.1)."""
    slug = config.get("SERVICE_ACCOUNT")
    query = select(Account).where(Account.slug == slug) if slug else \
        select(Account).where(Account.type == SERVICE, Account.verified).order_by(Account.id)
    account = db.scalars(query).first()
    if account is None or not for_account(account).allows(Cap.QR_CODE):
        return None
    return account


def is_subsidiary(account: Account) -> bool:
    return account.type == SUBSCRIPTION


def display_name(account: Account) -> str:
    return account.name or account.slug
