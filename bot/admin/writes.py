"""The admin API's views beyond plain listings: a member's ledger, a transcript, a survey's
responses, QR statistics, and the writes (points adjust, ship, cancel, QR codes), each with its
audit row in the same transaction as the change (who, what, when, before and after)."""
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot import points
from bot.admin import schemas
from bot.admin.views import auth, bp, caller, csv_response, fail, listing_page, session
from bot.jobs import committed
from bot.mall import orders as mall
from bot.points.engine import NotEnoughPoints, adjust
from bot.qr import batch as batches
from bot.qr import codes as qr_codes
from bot.qr import stats
from bot.scope import Scope
from models import AuditEntry, Conversation, MallOrder, Member, Store, Survey

NOT_FOUND = {404: "no such row in your scope"}
REFUSED = {404: "no such row in your scope", 409: "refused: the message says why and what to do"}


def audit(db, scope: Scope, action: str, target_type: str, target_id, before: dict | None,
          after: dict | None, now: datetime) -> None:
    db.add(AuditEntry(actor=scope.who, action=action, target_type=target_type, target_id=str(target_id),
                      before=before, after=after, at=now))


def _visible(db, model, row_id: int):
    """The row if it is in the caller's scope; else 404, as if it did not exist."""
    row = db.scalar(select(model).where(model.id == row_id, caller().where(model))) if row_id <= schemas.MAX_ID \
        else None
    if row is None:
        fail(404, "not_found", f"no {model.__tablename__.replace('_', ' ')} {row_id} in your scope")
    return row


@bp.get("/members/<int:member_id>/ledger")
@bp.auth_required(auth)
@bp.input(schemas.Paging, location="query", arg_name="query_data")
@bp.output(schemas.page_for("ledger"))
@bp.doc(responses=NOT_FOUND)
def member_ledger(member_id: int, query_data):
    """A member's ledger

    Points and growth entries, newest first."""
    with session() as db:
        _visible(db, Member, member_id)
    return listing_page("ledger", query_data, member_id=member_id)


@bp.get("/conversations/<int:conversation_id>/messages")
@bp.auth_required(auth)
@bp.input(schemas.Paging, location="query", arg_name="query_data")
@bp.output(schemas.page_for("messages"))
@bp.doc(responses=NOT_FOUND)
def transcript(conversation_id: int, query_data):
    """A conversation's transcript

    Every message in order; phones typed in messages are masked unless the caller is HQ."""
    with session() as db:
        _visible(db, Conversation, conversation_id)
    return listing_page("messages", query_data, conversation_id=conversation_id)


def _visible_survey(code: str) -> None:
    """404 unless the survey exists and is in the caller's scope (a link of it is)."""
    with session() as db:
        found = len(code) <= 64 and "\x00" not in code and db.scalar(
            select(Survey.id).where(Survey.code == code, caller().where(Survey)))
    if not found:
        fail(404, "not_found", f"no survey {code[:64]!r} in your scope")


@bp.get("/surveys/<code>/responses")
@bp.auth_required(auth)
@bp.input(schemas.ONE_SURVEYS_RESPONSES, location="query", arg_name="query_data")
@bp.output(schemas.page_for("survey_responses"))
@bp.doc(responses=NOT_FOUND)
def one_surveys_responses(code: str, query_data):
    """A survey's responses

    Newest first, each with its guide, store and group; filters guide (phone), group, completed."""
    _visible_survey(code)
    return listing_page("survey_responses", query_data, survey=code)


@bp.get("/surveys/<code>/responses.csv")
@bp.auth_required(auth)
@bp.input(schemas.ONE_SURVEYS_RESPONSES, location="query", arg_name="query_data")
@bp.output(schemas.Csv, content_type="text/csv")
@bp.doc(responses=NOT_FOUND)
def one_surveys_responses_csv(code: str, query_data):
    """Export a survey's responses as CSV

    Every response in scope, streamed; the answers as one JSON column."""
    _visible_survey(code)
    return csv_response("survey_responses", {**query_data, "survey": code})


@bp.get("/qr/stats")
@bp.auth_required(auth)
@bp.input(schemas.StatsQuery, location="query", arg_name="query_data")
@bp.output(schemas.Stats)
def qr_stats(query_data):
    """QR code statistics

    Scans, follows, unfollows and new members per code, staff member or store, within scope."""
    scope, by = caller(), query_data["by"]
    start, end = stats.bounds(query_data.get("since"), query_data.get("until"))
    with session() as db:
        if scope.everything:
            report = stats.report(db, None, by=by, start=start, end=end)
            lines, total = report.lines, report.total
        else:
            lines = [line for store_id in sorted(scope.store_ids)
                     for line in stats.report(db, None, by=by, store_id=store_id, start=start, end=end).lines]
            total = stats.Counts(*(sum(getattr(line.counts, f) for line in lines)
                                   for f in ("scans", "unique", "follows", "refollows", "unfollows", "members")))
    return {"by": by, "lines": [_stats_line(line.key, line.name, line.label, line.counts) for line in lines],
            "total": _stats_line(None, "total", "", total)}


def _stats_line(key, name, label, counts) -> dict:
    return {"key": key, "name": name, "label": label, "scans": counts.scans, "unique": counts.unique,
            "follows": counts.follows, "refollows": counts.refollows, "unfollows": counts.unfollows,
            "members": counts.members, "net": counts.net}


@bp.post("/members/<int:member_id>/points")
@bp.auth_required(auth)
@bp.input(schemas.PointsAdjust, arg_name="body")
@bp.output(schemas.PointsAdjusted)
@bp.doc(responses=REFUSED)
def points_adjust(member_id: int, body):
    """Adjust a member's points

    Through the ledger, with the reason the member is told and the caller as actor; once per key."""
    scope = caller()
    if body["delta"] == 0:
        fail(400, "invalid_field", "delta must not be 0: an adjustment changes the balance")
    with session() as db:
        _visible(db, Member, member_id)
    key = f"api:{scope.who}:{member_id}:{body['key']}"
    try:
        with points.transaction(current_app) as book:
            found = book.entry(f"adjust:{key}")
            before = book.lock(member_id).points
            entry = adjust(book, member_id, body["delta"], body["reason"], scope.who, key)
            after = book.lock(member_id).points
            if found is None:
                audit(book.db, scope, "points.adjust", "member", member_id, {"points": before},
                      {"points": after, "delta": body["delta"], "reason": body["reason"]}, book.now)
    except NotEnoughPoints as short:
        fail(409, "not_enough_points", f"the member has {short.balance} points; deduct at most that")
    except (ValueError, IntegrityError):
        fail(409, "key_in_use", "this key was used for another adjustment; choose a new key")
    return {"member_id": member_id, "delta": entry.delta, "points": after, "entry_id": entry.id,
            "replayed": found is not None}


def _order_view(order: MallOrder) -> dict:
    return {"id": order.id, "member_id": order.member_id, "product_name": order.product_name,
            "points": order.points, "status": order.status, "carrier": order.carrier,
            "tracking": order.tracking, "cancel_reason": order.cancel_reason}


def _order_change(order_id: int, action: str, change) -> dict:
    scope = caller()
    with session() as db:
        _visible(db, MallOrder, order_id)
    try:
        with points.transaction(current_app) as book:
            before = _order_view(book.db.get(MallOrder, order_id))
            order = change(book)
            after = _order_view(order)
            if after != before:
                audit(book.db, scope, action, "mall_order", order_id, before, after, book.now)
    except mall.Refused as refused:
        fail(409, "refused", str(refused))
    return after


@bp.post("/mall/orders/<int:order_id>/ship")
@bp.auth_required(auth)
@bp.input(schemas.Ship, arg_name="body")
@bp.output(schemas.Order)
@bp.doc(responses=REFUSED)
def order_ship(order_id: int, body):
    """Ship a mall order

    The member is told the carrier and tracking number; shipping again with the same number changes nothing."""
    return _order_change(order_id, "mall.ship",
                         lambda book: mall.ship(book, order_id, body["tracking"], body.get("carrier")))


@bp.post("/mall/orders/<int:order_id>/cancel")
@bp.auth_required(auth)
@bp.input(schemas.Cancel, arg_name="body")
@bp.output(schemas.Order)
@bp.doc(responses=REFUSED)
def order_cancel(order_id: int, body):
    """Cancel a mall order

    Points back to the member and the item back in stock, once."""
    return _order_change(order_id, "mall.cancel",
                         lambda book: mall.cancel(book, order_id, body["reason"], caller().who))


@bp.post("/qr/codes")
@bp.auth_required(auth)
@bp.input(schemas.QrCreate, arg_name="body")
@bp.output(schemas.QrCreated, status_code=201)
@bp.doc(responses={403: "the store is outside your scope, or not named by an operator of several",
                   409: "refused: the message says why"})
def qr_create(body):
    """Create QR codes

    Rows now, WeChat tickets by a job; a store manager's codes are their store's."""
    scope, app = caller(), current_app
    now = app.extensions["clock"].now()
    store_code = body.get("store")
    try:
        with committed(app) as (db, enqueue):
            if store_code is None and not scope.everything and len(scope.store_ids) == 1:
                store_code = db.get(Store, next(iter(scope.store_ids))).code
            if store_code is None and not scope.everything:
                mine = ", ".join(db.scalars(select(Store.code).where(scope.where(Store)).order_by(Store.code)))
                fail(403, "store_required", f"your codes belong to one of your stores: name it ({mine})")
            request = batches.resolve(db, body["account"], store_code=store_code, staff_phone=None,
                                      channel=body.get("channel"), tags=(), welcome=None,
                                      temporary_days=body.get("temporary_days"), count=body["count"])
            if not scope.covers_store(request.store.id if request.store else None):
                fail(403, "forbidden", f"store {store_code} is outside your scope")
            name = f"api-{request.default_batch(now)}"
            rows, _made = batches.prepare(db, request, name, now)
            ids = [row.id for row in rows]
            waiting = [row.id for row in rows if not row.ticket]
            audit(db, scope, "qr.create", "qr_batch", name, None,
                  {"account": request.account.slug, "store": store_code, "ids": ids}, now)
            if waiting:
                enqueue("workers.qr_tickets.issue_codes", request.account.id, waiting, retry=(5, 15, 60))
    except (batches.Refused, qr_codes.QrUnavailable) as refused:
        fail(409, "refused", str(refused))
    except IntegrityError:
        fail(409, "busy", "this batch is being created by another call; try again in a moment")
    return {"batch": name, "ids": ids, "waiting": len(waiting)}, 201
