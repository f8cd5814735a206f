"""Every operator listing, once: its columns, its filters and its query, scoped by bot/scope.py.

The admin API's GET endpoints, its CSV exports and the `admin list|export` commands all read
these. A listing selects plain labelled columns (no ORM objects), so an export streams rows
with yield_per and holds one batch at a time, however many there are.
"""
import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Iterator

from sqlalchemy import Select, distinct, func, select, true
from sqlalchemy.orm import Session, aliased

from bot.phones import normalize
from bot.scope import Scope
from models import (Account, AuditEntry, Conversation, CsMessage, Fan, FanTag, LedgerEntry, MallOrder,
                    Member, PointsRule, Purchase, QrCode, QrEvent, Staff, Store, Survey, SurveyLink, SurveyResponse)

INT, TEXT, BOOL, TIME, DATE, PHONE, JSON = "int", "text", "bool", "time", "date", "phone", "json"
MOBILE_IN_TEXT = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


class BadFilter(ValueError):
    """A filter value that cannot be read; the message says what it should be."""


@dataclass
class Listing:
    name: str
    model: type | None                 # the model whose scope rule applies; None: not store data
    columns: dict[str, str]            # name: INT | TEXT | BOOL | TIME | DATE | PHONE | JSON, in output order
    base: Callable[[], Select]
    order: Callable[[], list]
    filters: dict[str, tuple[str, Callable[[Select, Any], Select]]] = field(default_factory=dict)
    scoped: Callable[[Scope], Any] | None = None    # instead of scope.where(model)
    mask_text: tuple[str, ...] = ()    # free text (or JSON holding text) in which a typed phone is masked

    def query(self, scope: Scope, given: dict[str, Any]) -> Select:
        clause = self.scoped(scope) if self.scoped else scope.where(self.model)
        query = self.base().where(clause)
        for name, value in given.items():
            if value is None or value == "" or name not in self.filters:
                continue
            kind, apply = self.filters[name]
            query = apply(query, _read(name, kind, value))
        return query.order_by(*self.order())

    def row(self, scope: Scope, values) -> dict[str, Any]:
        out = {}
        for name, kind in self.columns.items():
            value = values[name]
            if kind == PHONE:
                value = scope.phone(value) if value else None
            elif name in self.mask_text and value:
                value = _mask(scope, value)
            out[name] = value
        return out

    def cells(self, row: dict) -> list:
        """A row as CSV cells: None empty, JSON as JSON text."""
        return ["" if row[c] is None else json.dumps(row[c], ensure_ascii=False) if kind == JSON else row[c]
                for c, kind in self.columns.items()]


def _mask(scope: Scope, value):
    if isinstance(value, str):
        return MOBILE_IN_TEXT.sub(lambda m: scope.phone(m.group()), value)
    if isinstance(value, list):
        return [_mask(scope, v) for v in value]
    if isinstance(value, dict):
        return {k: _mask(scope, v) for k, v in value.items()}
    return value


def _read(name: str, kind: str, value: Any) -> Any:
    if kind == PHONE:
        number = normalize(str(value))
        if number is None:
            raise BadFilter(f"{name} must be a mainland mobile number like 13800000000")
        return number
    if kind == INT:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise BadFilter(f"{name} must be a whole number") from None
    if kind == BOOL:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1", "yes"):
            return True
        if str(value).lower() in ("false", "0", "no"):
            return False
        raise BadFilter(f"{name} must be true or false")
    if kind == TIME:
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise BadFilter(f"{name} must be a date like 2027-01-31") from None
    return str(value)


def _eq(column):
    return lambda query, value: query.where(column == value)


def _member_phone(column):
    return lambda query, value: query.where(column.in_(select(Member.id).where(Member.phone == value)))


def _fans() -> Select:
    return (select(Fan.id, Account.slug.label("account"), Fan.openid, Fan.following, Store.code.label("store"),
                   Fan.member_id, Member.phone.label("phone"), Fan.role_tag.label("role"), Fan.followed_at,
                   Fan.created_at)
            .join(Account, Account.id == Fan.account_id).outerjoin(Store, Store.id == Fan.store_id)
            .outerjoin(Member, Member.id == Fan.member_id))


def _members() -> Select:
    return (select(Member.id, Member.phone, Member.name, Member.points, Member.growth, Member.level,
                   Store.code.label("store"), Member.created_at)
            .outerjoin(Store, Store.id == Member.home_store_id))


def _ledger() -> Select:
    return select(LedgerEntry.id, LedgerEntry.member_id, LedgerEntry.ledger, LedgerEntry.delta,
                  LedgerEntry.balance, LedgerEntry.kind, LedgerEntry.reason, LedgerEntry.actor,
                  LedgerEntry.created_at)


def _purchases() -> Select:
    return select(Purchase.id, Purchase.order_id, Purchase.member_id, Purchase.amount_fen, Purchase.refunded_fen,
                  Purchase.payment_method, Purchase.source, Purchase.paid_at)


def _orders() -> Select:
    return select(MallOrder.id, MallOrder.member_id, MallOrder.product_name, MallOrder.points, MallOrder.status,
                  MallOrder.carrier, MallOrder.tracking, MallOrder.created_at, MallOrder.shipped_at,
                  MallOrder.cancelled_at)


def _codes() -> Select:
    return (select(QrCode.id, Account.slug.label("account"), QrCode.scene, QrCode.permanent,
                   Store.code.label("store"), QrCode.staff_id, QrCode.channel, QrCode.label, QrCode.batch,
                   QrCode.ticket.is_not(None).label("issued"), QrCode.expires_at, QrCode.created_at)
            .join(Account, Account.id == QrCode.account_id).outerjoin(Store, Store.id == QrCode.store_id))


def _qr_events() -> Select:
    code = aliased(QrCode)
    return (select(QrEvent.id, QrEvent.code_id, code.label.label("code_label"), QrEvent.fan_id, QrEvent.kind,
                   QrEvent.scanned, QrEvent.at)
            .outerjoin(code, code.id == QrEvent.code_id))


def _conversations() -> Select:
    return (select(Conversation.id, Account.slug.label("account"), Store.code.label("store"), Conversation.fan_id,
                   Fan.openid, Conversation.agent_id, Conversation.status, Conversation.mode, Conversation.rating,
                   Conversation.opened_at, Conversation.closed_at)
            .join(Account, Account.id == Conversation.account_id).join(Fan, Fan.id == Conversation.fan_id)
            .outerjoin(Store, Store.id == Conversation.store_id))


def _messages() -> Select:
    return select(CsMessage.id, CsMessage.conversation_id, CsMessage.sender, CsMessage.agent_id,
                  CsMessage.msg_type, CsMessage.content, CsMessage.at)


def _tags() -> Select:
    return select(FanTag.name, func.count(FanTag.fan_id).label("fans")).group_by(FanTag.name)


def _surveys() -> Select:
    """Each survey with the counts of its links and their responses (the WHERE keeps the links in
    scope, so the counts are the caller's own and a survey with none of their links drops out)."""
    return (select(Survey.code, Survey.title, Survey.starts_on, Survey.ends_on, Survey.points, Survey.quota,
                   func.count(distinct(SurveyLink.id)).label("links"), func.count(SurveyResponse.id).label("opened"),
                   func.count(SurveyResponse.started_at).label("started"),
                   func.count(SurveyResponse.completed_at).label("completed"))
            .outerjoin(SurveyLink, SurveyLink.survey_id == Survey.id)
            .outerjoin(SurveyResponse, SurveyResponse.link_id == SurveyLink.id)
            .group_by(Survey.id))


def _survey_responses() -> Select:
    return (select(SurveyResponse.id, Survey.code.label("survey"), SurveyResponse.link_id, Staff.name.label("guide"),
                   Staff.phone.label("guide_phone"), Store.code.label("store"), SurveyLink.group_code.label("group"),
                   SurveyResponse.member_id, Member.phone.label("phone"), SurveyResponse.points,
                   SurveyResponse.opened_at, SurveyResponse.started_at, SurveyResponse.completed_at,
                   SurveyResponse.answers)
            .join(SurveyLink, SurveyLink.id == SurveyResponse.link_id).join(Survey, Survey.id == SurveyLink.survey_id)
            .join(Staff, Staff.id == SurveyLink.staff_id).join(Store, Store.id == SurveyLink.store_id)
            .outerjoin(Member, Member.id == SurveyResponse.member_id))


def _completed(query: Select, value: bool) -> Select:
    done = SurveyResponse.completed_at
    return query.where(done.is_not(None) if value else done.is_(None))


def _rules() -> Select:
    return select(PointsRule.id, PointsRule.code, PointsRule.version, PointsRule.trigger, PointsRule.in_force,
                  PointsRule.loaded_at)


def _audit() -> Select:
    return select(AuditEntry.id, AuditEntry.actor, AuditEntry.action, AuditEntry.target_type,
                  AuditEntry.target_id, AuditEntry.before, AuditEntry.after, AuditEntry.at)


def _own_audit(scope: Scope):
    """HQ reads every audit row; anyone else the rows of what they did themselves."""
    return true() if scope.everything else AuditEntry.actor == scope.who


def _everyone(_scope: Scope):
    """The points rules are the group's one configuration: every operator may read them."""
    return true()


LISTINGS: dict[str, Listing] = {listing.name: listing for listing in [
    Listing("fans", Fan,
            {"id": INT, "account": TEXT, "openid": TEXT, "following": BOOL, "store": TEXT, "member_id": INT,
             "phone": PHONE, "role": TEXT, "followed_at": TIME, "created_at": TIME},
            _fans, lambda: [Fan.id.desc()],
            {"phone": (PHONE, _eq(Member.phone)), "store": (TEXT, _eq(Store.code)),
             "account": (TEXT, _eq(Account.slug)), "following": (BOOL, _eq(Fan.following))}),
    Listing("members", Member,
            {"id": INT, "phone": PHONE, "name": TEXT, "points": INT, "growth": INT, "level": TEXT,
             "store": TEXT, "created_at": TIME},
            _members, lambda: [Member.id.desc()],
            {"phone": (PHONE, _eq(Member.phone)), "store": (TEXT, _eq(Store.code)),
             "level": (TEXT, _eq(Member.level))}),
    Listing("ledger", LedgerEntry,
            {"id": INT, "member_id": INT, "ledger": TEXT, "delta": INT, "balance": INT, "kind": TEXT,
             "reason": TEXT, "actor": TEXT, "created_at": TIME},
            _ledger, lambda: [LedgerEntry.id.desc()],
            {"member_id": (INT, _eq(LedgerEntry.member_id)), "ledger": (TEXT, _eq(LedgerEntry.ledger)),
             "phone": (PHONE, _member_phone(LedgerEntry.member_id))}, mask_text=("reason",)),
    Listing("purchases", Purchase,
            {"id": INT, "order_id": TEXT, "member_id": INT, "amount_fen": INT, "refunded_fen": INT,
             "payment_method": TEXT, "source": TEXT, "paid_at": TIME},
            _purchases, lambda: [Purchase.id.desc()],
            {"member_id": (INT, _eq(Purchase.member_id)), "order_id": (TEXT, _eq(Purchase.order_id)),
             "phone": (PHONE, _member_phone(Purchase.member_id))}),
    Listing("mall_orders", MallOrder,
            {"id": INT, "member_id": INT, "product_name": TEXT, "points": INT, "status": TEXT, "carrier": TEXT,
             "tracking": TEXT, "created_at": TIME, "shipped_at": TIME, "cancelled_at": TIME},
            _orders, lambda: [MallOrder.id.desc()],
            {"status": (TEXT, _eq(MallOrder.status)), "member_id": (INT, _eq(MallOrder.member_id))}),
    Listing("qr_codes", QrCode,
            {"id": INT, "account": TEXT, "scene": TEXT, "permanent": BOOL, "store": TEXT, "staff_id": INT,
             "channel": TEXT, "label": TEXT, "batch": TEXT, "issued": BOOL, "expires_at": TIME,
             "created_at": TIME},
            _codes, lambda: [QrCode.id.desc()],
            {"store": (TEXT, _eq(Store.code)), "account": (TEXT, _eq(Account.slug)),
             "batch": (TEXT, _eq(QrCode.batch)), "channel": (TEXT, _eq(QrCode.channel))}),
    Listing("qr_events", QrEvent,
            {"id": INT, "code_id": INT, "code_label": TEXT, "fan_id": INT, "kind": TEXT, "scanned": BOOL,
             "at": TIME},
            _qr_events, lambda: [QrEvent.id.desc()],
            {"code_id": (INT, _eq(QrEvent.code_id)), "kind": (TEXT, _eq(QrEvent.kind))}),
    Listing("conversations", Conversation,
            {"id": INT, "account": TEXT, "store": TEXT, "fan_id": INT, "openid": TEXT, "agent_id": INT, "status": TEXT,
             "mode": TEXT, "rating": INT, "opened_at": TIME, "closed_at": TIME},
            _conversations, lambda: [Conversation.id.desc()],
            {"status": (TEXT, _eq(Conversation.status)), "store": (TEXT, _eq(Store.code)),
             "account": (TEXT, _eq(Account.slug))}),
    Listing("messages", CsMessage,
            {"id": INT, "conversation_id": INT, "sender": TEXT, "agent_id": INT, "msg_type": TEXT,
             "content": TEXT, "at": TIME},
            _messages, lambda: [CsMessage.id],
            {"conversation_id": (INT, _eq(CsMessage.conversation_id))}, mask_text=("content",)),
    Listing("tags", FanTag, {"name": TEXT, "fans": INT}, _tags, lambda: [FanTag.name],
            {"name": (TEXT, _eq(FanTag.name))}),
    Listing("surveys", SurveyLink,
            {"code": TEXT, "title": TEXT, "starts_on": DATE, "ends_on": DATE, "points": INT, "quota": INT,
             "links": INT, "opened": INT, "started": INT, "completed": INT},
            _surveys, lambda: [Survey.code],
            {"code": (TEXT, _eq(Survey.code))}),
    Listing("survey_responses", SurveyResponse,
            {"id": INT, "survey": TEXT, "link_id": INT, "guide": TEXT, "guide_phone": PHONE, "store": TEXT,
             "group": TEXT, "member_id": INT, "phone": PHONE, "points": INT, "opened_at": TIME, "started_at": TIME,
             "completed_at": TIME, "answers": JSON},
            _survey_responses, lambda: [SurveyResponse.id.desc()],
            {"survey": (TEXT, _eq(Survey.code)), "guide": (PHONE, _eq(Staff.phone)),
             "group": (TEXT, _eq(SurveyLink.group_code)), "completed": (BOOL, _completed)},
            mask_text=("answers",)),
    Listing("rules", None,
            {"id": INT, "code": TEXT, "version": INT, "trigger": TEXT, "in_force": BOOL, "loaded_at": TIME},
            _rules, lambda: [PointsRule.code, PointsRule.version.desc()],
            {"in_force": (BOOL, _eq(PointsRule.in_force)), "code": (TEXT, _eq(PointsRule.code))},
            scoped=_everyone),
    Listing("audit", None,
            {"id": INT, "actor": TEXT, "action": TEXT, "target_type": TEXT, "target_id": TEXT,
             "before": JSON, "after": JSON, "at": TIME},
            _audit, lambda: [AuditEntry.id.desc()],
            {"action": (TEXT, _eq(AuditEntry.action)), "target_type": (TEXT, _eq(AuditEntry.target_type))},
            scoped=_own_audit),
]}

# Listings of the group's data that a store must never see of another store (the scope tests
# enumerate these); `rules` is configuration and `audit` is scoped by actor.
STORE_DATA = [name for name, listing in LISTINGS.items() if listing.model is not None]


@dataclass
class Page:
    items: list[dict]
    page: int
    per_page: int
    total: int


def page(db: Session, listing: Listing, scope: Scope, given: dict, number: int, per_page: int) -> Page:
    query = listing.query(scope, given)
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = db.execute(query.limit(per_page).offset((number - 1) * per_page))
    return Page([listing.row(scope, row._mapping) for row in rows], number, per_page, total)


def stream(db: Session, listing: Listing, scope: Scope, given: dict, batch: int = 1000) -> Iterator[dict]:
    """Every row, fetched `batch` at a time from a server-side cursor (constant memory)."""
    result = db.execute(listing.query(scope, given).execution_options(yield_per=batch))
    for row in result:
        yield listing.row(scope, row._mapping)

