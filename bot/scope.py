"""Data scope: the one rule of who sees what (DESIGN.md "Operators and scope").

An HQ admin sees everything; a company admin the stores of their company; a store manager
(an operator of role `store`, or a staff manager in the chat) one store. Every listing over
fans, members, ledgers, purchases, mall orders, QR codes and statistics, conversations and
transcripts, tags and survey results asks `scope.where(Model)` for its WHERE clause, in the CLI and the admin
API alike. A model reaches a store one way, written once in RULES:

    a fan                     its first-touch store (Fan.store_id)
    a member                  their home store (Member.home_store_id, the first-touch store)
    a member's rows           ledger, purchases, mall orders, awards: through the member
    a QR code                 its store; a scan, follow or unfollow through its code
    a conversation            its store; its messages and assignments through it
    a fan's tag               through the fan
    a survey link             the store of the guide who made it (SurveyLink.store_id, kept when
                              the guide moves: the responses stay with the store they came to)
    a survey response         through its link
    a survey                  once a link of it is in scope: a survey several stores use is seen
                              by each, with the counts of its own links only

A model no rule names is refused (LookupError), so a new listing cannot leak by default. A later
feature whose rows live outside models/ can add its rule with `register`.
"""
import hashlib
import secrets
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session

from bot.phones import mask_phone, normalize
from models import (Assignment, Award, Conversation, CsMessage, Fan, FanTag, LedgerEntry, MallOrder,
                    Member, Operator, PendingCredit, Purchase, QrCode, QrEvent, Refund, Staff, Store, Survey,
                    SurveyLink, SurveyResponse)
from models.operator import COMPANY, HQ, STORE
from models.org import MANAGER

TOKEN_PREFIX = "op_"


class NotAllowed(Exception):
    """The asker is no operator and no staff manager, or their operator is revoked."""


@dataclass(frozen=True)
class Scope:
    who: str                                  # for audit rows: operator:NAME, staff:138****0000, server
    role: str                                 # hq | company | store
    store_ids: frozenset[int] | None          # None: every store, and rows of no store
    operator_id: int | None = None

    @property
    def everything(self) -> bool:
        return self.store_ids is None

    @property
    def full_phones(self) -> bool:
        """Only HQ reads whole phone numbers; everyone else reads 138****0000."""
        return self.role == HQ

    def phone(self, phone: str | None) -> str:
        return (phone or "") if self.full_phones else mask_phone(phone)

    def covers_store(self, store_id: int | None) -> bool:
        return self.everything or store_id in self.store_ids

    def where(self, model) -> ColumnElement:
        """The WHERE clause of the rows of `model` this scope may see."""
        rule = RULES.get(model)
        if rule is None:
            raise LookupError(f"no scope rule for {model.__name__}: add one to bot/scope.py")
        if self.everything:
            return true()
        if not self.store_ids:
            return false()
        return rule(self.store_ids)


def _members(ids):
    return select(Member.id).where(Member.home_store_id.in_(ids))


def _codes(ids):
    return select(QrCode.id).where(QrCode.store_id.in_(ids))


def _conversations(ids):
    return select(Conversation.id).where(Conversation.store_id.in_(ids))


def _links(ids):
    return select(SurveyLink.id).where(SurveyLink.store_id.in_(ids))


RULES: dict[type, Callable[[frozenset[int]], ColumnElement]] = {
    Store: lambda ids: Store.id.in_(ids),
    Staff: lambda ids: Staff.store_id.in_(ids),
    Fan: lambda ids: Fan.store_id.in_(ids),
    FanTag: lambda ids: FanTag.fan_id.in_(select(Fan.id).where(Fan.store_id.in_(ids))),
    Member: lambda ids: Member.home_store_id.in_(ids),
    LedgerEntry: lambda ids: LedgerEntry.member_id.in_(_members(ids)),
    Award: lambda ids: Award.member_id.in_(_members(ids)),
    PendingCredit: lambda ids: PendingCredit.member_id.in_(_members(ids)),
    Purchase: lambda ids: Purchase.member_id.in_(_members(ids)),
    Refund: lambda ids: Refund.purchase_id.in_(select(Purchase.id).where(Purchase.member_id.in_(_members(ids)))),
    MallOrder: lambda ids: MallOrder.member_id.in_(_members(ids)),
    QrCode: lambda ids: QrCode.store_id.in_(ids),
    QrEvent: lambda ids: QrEvent.code_id.in_(_codes(ids)),
    Conversation: lambda ids: Conversation.store_id.in_(ids),
    CsMessage: lambda ids: CsMessage.conversation_id.in_(_conversations(ids)),
    Assignment: lambda ids: Assignment.conversation_id.in_(_conversations(ids)),
    SurveyLink: lambda ids: SurveyLink.store_id.in_(ids),
    SurveyResponse: lambda ids: SurveyResponse.link_id.in_(_links(ids)),
    Survey: lambda ids: Survey.id.in_(select(SurveyLink.survey_id).where(SurveyLink.store_id.in_(ids))),
}


def register(model: type, rule: Callable[[frozenset[int]], ColumnElement]) -> None:
    """How a later feature's rows reach a store; call it at import of the model's feature, before
    any listing of it."""
    RULES[model] = rule


SERVER = Scope("server", HQ, None)      # the machine's operator at the command line, without --as


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def of_operator(db: Session, operator: Operator) -> Scope:
    if not operator.active:
        raise NotAllowed(f"operator {operator.name} is revoked")
    who = f"operator:{operator.name}"
    if operator.role == HQ:
        return Scope(who, HQ, None, operator.id)
    if operator.role == COMPANY:
        ids = db.scalars(select(Store.id).where(Store.company_id == operator.company_id))
        return Scope(who, COMPANY, frozenset(ids), operator.id)
    return Scope(who, STORE, frozenset({operator.store_id}), operator.id)


def of_staff(staff: Staff) -> Scope:
    """A staff manager keeps their store's scope (the chat's 拉新 chart, `cs --as`)."""
    if not staff.active or MANAGER not in staff.role_list:
        raise NotAllowed("only an active store manager has a scope")
    return Scope(f"staff:{mask_phone(staff.phone)}", STORE, frozenset({staff.store_id}))


def of_token(db: Session, token: str) -> Scope:
    operator = db.scalar(select(Operator).where(Operator.token_hash == hash_token(token)))
    if operator is None:
        raise NotAllowed("unknown token")
    return of_operator(db, operator)


def resolve(db: Session, asker: str | None) -> Scope:
    """`--as OPERATOR` or `--as PHONE` (a staff manager); nobody named: the server operator."""
    if asker is None:
        return SERVER
    operator = db.scalar(select(Operator).where(Operator.name == asker))
    if operator is not None:
        return of_operator(db, operator)
    number = normalize(asker)
    staff = db.scalar(select(Staff).where(Staff.phone == number)) if number else None
    if staff is None:
        raise NotAllowed(f"{mask_phone(number) if number else asker!r} is no operator and no staff member")
    return of_staff(staff)
