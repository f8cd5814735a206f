"""A batch of codes, made resumably: every row first (one transaction), then one ticket per
transaction. An interruption leaves rows without a ticket; running the same request again asks
WeChat only for those, and for permanent codes WeChat answers a scene it has seen with the
same code (WECHAT-PLATFORM.md §4.2), so nothing is made twice. A temporary code whose answer
was lost is made again (qrcode/create has no idempotency key); the lost one, in no row, expires.

`resolve` checks everything that needs no API call; `check_tag_room` is the one read from
WeChat before any code is made; `prepare` makes (or finds) the rows; `issue` gets one ticket.
"""
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.clock import CST, Clock
from bot.phones import mask_phone, normalize
from bot.protocol import TEXT_LIMIT_BYTES, clean_text
from bot.qr import codes
from bot.wechat import WeChatError
from models import Account, QrCode, Staff, Store
from models.tag import ROLE_TAGS

log = logging.getLogger(__name__)

COUNT_MAX = 10_000
CHANNEL_MAX = 64                    # QrCode.channel's column
BATCH_NAME = re.compile(r"^\w[\w.-]{0,63}$")   # also the zip's file name: no "/", no leading "."
TAG_NAME_MAX_BYTES = 30             # WECHAT-PLATFORM.md §4.4: a tag name is ≤ 30 bytes (45158)
TAGS_PER_ACCOUNT = 100              # §4.4: ≤ 100 tags per account (45056)
WECHAT_OWN_TAG_IDS = {0, 1, 2}      # §4.4: 未分组, 黑名单, 星标组 are WeChat's, not counted
RETRY_DELAYS = (1.0, 3.0)           # seconds before the 2nd and 3rd try after a -1 "system busy" (§4.15)


class Refused(Exception):
    """The request cannot be made as given; the message says why, in one line."""


@dataclass(frozen=True)
class Request:
    """What `qr create` was asked for, resolved to our rows."""
    account: Account
    permanent: bool
    temporary_days: int | None
    store: Store | None
    staff: Staff | None
    channel: str | None
    tags: tuple[str, ...]
    welcome: str | None
    count: int

    def fields(self) -> dict:
        """The columns every code of the batch shares."""
        return dict(store_id=self.store.id if self.store else None,
                    staff_id=self.staff.id if self.staff else None,
                    channel=self.channel, tags=list(self.tags), welcome=self.welcome)

    def label_parts(self) -> tuple:
        return (self.store.name if self.store else None, self.staff.name if self.staff else None,
                self.channel)

    def default_batch(self, now) -> str:
        """A short key made of the parameters, so the same command finds its batch again.
        Temporary codes also key on the day (China time): tomorrow's run makes fresh codes
        instead of handing out today's, which expire a day sooner."""
        day = None if self.permanent else now.astimezone(CST).date().isoformat()
        digest = hashlib.sha1(json.dumps([self.account.id, self.permanent, self.temporary_days, self.fields(),
                                          self.count, day], ensure_ascii=False, sort_keys=True).encode())
        return f"{'p' if self.permanent else 't'}{self.count}-{digest.hexdigest()[:8]}"


def resolve(db: Session, slug: str, *, store_code: str | None, staff_phone: str | None,
            channel: str | None, tags: tuple[str, ...], welcome: str | None,
            temporary_days: int | None, count: int) -> Request:
    """Every check that needs no API call, in the order an operator would fix them."""
    account = db.scalar(select(Account).where(Account.slug == slug))
    if account is None:
        raise Refused(f"no account {slug}")
    codes.check_account(account)
    if not 1 <= count <= COUNT_MAX:
        raise Refused(f"--count must be 1 to {COUNT_MAX:,}, not {count}")
    if temporary_days is not None:
        codes.check_days(temporary_days)
    store = _store(db, store_code) if store_code is not None else None
    staff = None
    if staff_phone is not None:
        staff = _staff(db, staff_phone)
        staff_store = db.get(Store, staff.store_id)
        if store is not None and store.id != staff_store.id:
            raise Refused(f"staff {staff.name} ({mask_phone(staff.phone)}) works at store {staff_store.code}, "
                          f"not {store.code}: leave out --store, or choose that store")
        store = staff_store            # a staff member's code is their store's code too
    return Request(account=account, permanent=temporary_days is None, temporary_days=temporary_days,
                   store=store, staff=staff, channel=_channel(channel), tags=_tag_names(tags),
                   welcome=_welcome(welcome), count=count)


def _store(db: Session, code: str) -> Store:
    store = db.scalar(select(Store).where(Store.code == code.strip()))
    if store is None:
        raise Refused(f"no store {code} (see: flask --app wsgi stores list)")
    return store


def _staff(db: Session, phone: str) -> Staff:
    number = normalize(phone)
    if number is None:
        raise Refused(f"--staff {phone!r} is not a mainland mobile number")
    staff = db.scalar(select(Staff).where(Staff.phone == number, Staff.active))
    if staff is None:
        raise Refused(f"no active staff with phone {mask_phone(number)} on the roster "
                      "(see: flask --app wsgi staff list)")
    return staff


def _channel(channel: str | None) -> str | None:
    if channel is None:
        return None
    channel = clean_text(channel).strip()
    if not channel or len(channel) > CHANNEL_MAX:
        raise Refused(f"--channel must be 1 to {CHANNEL_MAX} characters")
    return channel


def _tag_names(names: tuple[str, ...]) -> tuple[str, ...]:
    cleaned = []
    for raw in names:
        name = clean_text(raw).strip()
        if not name:
            raise Refused("--tag: a tag name must not be empty")
        if len(name.encode()) > TAG_NAME_MAX_BYTES:
            raise Refused(f"--tag {name}: {len(name.encode())} bytes; WeChat allows a tag name "
                          f"{TAG_NAME_MAX_BYTES} bytes (10 Chinese characters)")
        cleaned.append(name)
    return tuple(dict.fromkeys(cleaned))


def _welcome(welcome: str | None) -> str | None:
    if welcome is None:
        return None
    text = clean_text(welcome).strip()
    if not text:
        raise Refused("--welcome must not be empty (leave it out to use the account's welcome)")
    if len(text.encode()) > TEXT_LIMIT_BYTES:
        # The welcome is a passive text reply: ~2048 bytes at most (WECHAT-PLATFORM.md §3.4, §7).
        raise Refused(f"--welcome is {len(text.encode())} bytes; a text reply holds {TEXT_LIMIT_BYTES}")
    return text


def check_tag_room(db: Session, client, request: Request) -> None:
    """Refuse tags that would take the account past WeChat's 100 (§4.4): the tags WeChat has
    (its own ids 0/1/2 aside), the tags our other codes will create when scanned, our three
    menu-role tags, and these. One tags/get call; nothing when the codes carry no tags."""
    if not request.tags:
        return
    on_wechat = {tag["name"] for tag in client.tag.get() if int(tag["id"]) not in WECHAT_OWN_TAG_IDS}
    promised = set()
    # Every code of a batch carries the same tags: its first row stands for it.
    for names in db.scalars(select(QrCode.tags).where(
            QrCode.account_id == request.account.id,
            or_(QrCode.batch_index.is_(None), QrCode.batch_index == 1))):
        promised.update(names or ())
    roles = [name for name in ROLE_TAGS if name not in on_wechat]
    promised -= on_wechat | set(ROLE_TAGS)
    new = [name for name in request.tags if name not in on_wechat | promised | set(ROLE_TAGS)]
    total = len(on_wechat) + len(promised) + len(roles) + len(new)
    if total > TAGS_PER_ACCOUNT:
        parts = [f"{len(on_wechat)} on WeChat"]
        if promised:
            parts.append(f"{len(promised)} from other codes, not created yet")
        if roles:
            parts.append(f"{len(roles)} menu-role tags to come ({', '.join(roles)})")
        parts.append(f"{len(new)} new from --tag ({', '.join(new)})")
        raise Refused(f"the account would have {total} tags (WeChat allows {TAGS_PER_ACCOUNT}): "
                      + ", ".join(parts))


def batch_rows(db: Session, account_id: int, batch: str) -> list[QrCode]:
    return list(db.scalars(select(QrCode).where(QrCode.account_id == account_id, QrCode.batch == batch)
                           .order_by(QrCode.batch_index)))


def prepare(db: Session, request: Request, batch: str, now) -> tuple[list[QrCode], bool]:
    """The batch's rows, made now (True) or found from an earlier run of the same request."""
    if not BATCH_NAME.match(batch):
        raise Refused(f"--batch {batch!r}: use 1 to 64 letters, digits, '-', '_' or '.' (not first)")
    rows = batch_rows(db, request.account.id, batch)
    if not rows:
        return codes.new_codes(db, request.account, request.count, permanent=request.permanent, now=now,
                               temporary_days=request.temporary_days, label_parts=request.label_parts(),
                               batch=batch, **request.fields()), True
    first, fields = rows[0], request.fields()
    if (len(rows) != request.count or first.permanent != request.permanent
            or any(getattr(first, name) != value for name, value in fields.items())):
        raise Refused(f"batch {batch} exists with other parameters ({len(rows)} "
                      f"{'permanent' if first.permanent else 'temporary'} codes): choose another --batch")
    waiting = [code for code in rows if not code.ticket]
    if waiting and not request.permanent and waiting[0].expires_at <= now + timedelta(minutes=1):
        # §4.2: a temporary code's lifetime is counted from its creation; these have none left.
        raise Refused(f"batch {batch}'s codes expired; make a new batch (--batch NAME)")
    return rows, False


def issue(sessions, client, code_id: int, clock: Clock) -> None:
    """The code's ticket: the row read in one transaction, WeChat asked with none open (on
    SQLite a transaction holds the database-wide write lock, and a call may take the whole HTTP
    timeout), the ticket stored in a second one unless another run stored one first. A -1
    "system busy" (or no answer) is tried again after RETRY_DELAYS (§4.15); any other WeChat
    error, or the last one, is raised."""
    for delay in (*RETRY_DELAYS, None):
        try:
            with sessions() as db:
                with db.begin():
                    code = db.get(QrCode, code_id)
                    db.expunge(code)        # a copy of the row, still readable after the commit
                codes.obtain_ticket(client, code, clock.now())
                with db.begin():
                    stored = db.get(QrCode, code_id)
                    if not stored.ticket:
                        stored.ticket, stored.url = code.ticket, code.url
            return
        except WeChatError as exc:
            if not exc.retryable or delay is None:
                raise
            log.warning("qr code %s: %s; trying again in %ss", code_id, exc, delay)
            time.sleep(delay)
