"""The booking system's API: purchases and refunds, signed per integration.

Every request carries
    X-Integration: NAME        (flask --app wsgi integrations add NAME prints its key)
    X-Timestamp:   UNIX SECONDS
    X-Signature:   hex HMAC-SHA256(key, TIMESTAMP + "." + RAW BODY)
and a JSON body. Errors are JSON: {"error": CODE, "message": TEXT}, with a stable CODE.
A repeated call (same order, same refund id, same details) changes nothing and answers 200
with "replayed": true, so a booking system may retry after a timeout.
"""
import hashlib
import hmac
import json
import logging
from datetime import timedelta

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from bot import points
from bot.clock import CST
from bot.points.purchases import (PurchaseError, find_member, parse_amount, parse_date, parse_time,
                                  record_purchase, refund_purchase)
from models import Integration

bp = Blueprint("api", __name__, url_prefix="/api")
log = logging.getLogger(__name__)
MAX_SKEW = 300          # seconds a signed request stays valid (a captured one cannot be replayed later)
MAX_BODY = 64 * 1024
FUTURE_SLACK = timedelta(minutes=10)   # clocks differ a little; an order paid tomorrow is a mistake


def _error(code: str, message: str, status: int):
    return jsonify(error=code, message=message), status


def _authenticate() -> str:
    """The calling integration's name; PurchaseError when the request is not signed by it."""
    name = request.headers.get("X-Integration", "")
    stamp = request.headers.get("X-Timestamp", "")
    given = request.headers.get("X-Signature", "")
    with current_app.extensions["db"]() as db:
        row = db.scalar(select(Integration).where(Integration.name == name, Integration.active))
        secret = row.secret if row else None
    if secret is None:
        raise PurchaseError("unknown_integration", "X-Integration names no active integration", 401)
    if not stamp.isdigit() or abs(current_app.extensions["clock"].timestamp() - int(stamp)) > MAX_SKEW:
        raise PurchaseError("stale_timestamp", f"X-Timestamp must be within {MAX_SKEW} s of now", 401)
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + request.get_data(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.lower()):
        raise PurchaseError("bad_signature", "X-Signature does not match the body", 401)
    return name


def _body() -> dict:
    if (request.content_length or 0) > MAX_BODY:
        raise PurchaseError("too_large", f"bodies are at most {MAX_BODY} bytes", 413)
    try:
        body = json.loads(request.get_data() or b"null")
    except ValueError:
        raise PurchaseError("invalid_json", "the body is not JSON", 400) from None
    if not isinstance(body, dict):
        raise PurchaseError("invalid_json", "the body must be a JSON object", 400)
    return body


def _text(body: dict, field: str, limit: int, required: bool = True) -> str | None:
    value = body.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool) or not str(value).strip() \
            or len(str(value)) > limit:
        raise PurchaseError("invalid_field", f"{field} must be text of 1–{limit} characters", 400)
    return str(value).strip()


@bp.errorhandler(PurchaseError)
def purchase_error(exc: PurchaseError):
    return _error(exc.code, exc.message, exc.status)


@bp.post("/purchases")
def purchases():
    """Records an order and pays its purchase awards, once per order id."""
    source = _authenticate()
    body = _body()
    order_id = _text(body, "order_id", 64)
    amount = parse_amount(body.get("amount"))
    if amount is None:
        raise PurchaseError("invalid_field", "amount must be yuan > 0 with at most 2 decimals", 400)
    paid_at = parse_time(body.get("paid_at"))
    if paid_at is None:
        raise PurchaseError("invalid_field", "paid_at must be an ISO 8601 time", 400)
    if paid_at > current_app.extensions["clock"].now() + FUTURE_SLACK:
        raise PurchaseError("invalid_field", "paid_at is in the future", 400)
    method = _text(body, "payment_method", 32)
    trip_end = None
    if body.get("trip_end") is not None:
        trip_end = parse_date(body.get("trip_end"))
        if trip_end is None:
            raise PurchaseError("invalid_field", "trip_end must be a China date like 2027-07-14", 400)
        if trip_end < paid_at.astimezone(CST).date():
            raise PurchaseError("invalid_field", "trip_end is before paid_at: a trip ends after it is paid", 400)
    if not body.get("phone") and not body.get("openid"):
        raise PurchaseError("invalid_field", "phone or openid is required", 400)
    try:
        with points.transaction(current_app) as book:
            member_id = find_member(book.db, phone=body.get("phone"), openid=body.get("openid"))
            if member_id is None:
                raise PurchaseError("unknown_member", "no member has this phone or openid", 404)
            outcome = record_purchase(book, order_id=order_id, member_id=member_id, amount_fen=amount,
                                      paid_at=paid_at, payment_method=method, source=source,
                                      trip_end=trip_end)
            balance = book.lock(member_id).points
    except IntegrityError:
        # The same order arrived twice at once (for two members: the member locks do not meet):
        # one insert won; this call is the duplicate.
        raise PurchaseError("duplicate_order", f"order {order_id} is being recorded by another call", 409)
    log.info("purchase order=%s source=%s points=%d replayed=%s", order_id, source, outcome.points,
             outcome.replayed)
    waiting = {"pending_points": outcome.pending,
               "pending_until": outcome.pending_until.isoformat()} if outcome.pending else {}
    return jsonify(order_id=order_id, points=outcome.points, growth=outcome.growth, balance=balance,
                   replayed=outcome.replayed, **waiting), 200 if outcome.replayed else 201


@bp.post("/purchases/<path:order_id>/refund")
def refund(order_id: str):
    """Refunds all or part of an order and reverses its awards in proportion, once per refund id."""
    source = _authenticate()
    body = _body()
    refund_id = _text(body, "refund_id", 64)
    amount = None
    if body.get("amount") is not None:
        amount = parse_amount(body.get("amount"))
        if amount is None:
            raise PurchaseError("invalid_field", "amount must be yuan > 0 with at most 2 decimals", 400)
    with points.transaction(current_app) as book:
        outcome = refund_purchase(book, order_id=order_id, refund_id=refund_id, amount_fen=amount,
                                  source=source)
    log.info("refund order=%s refund=%s points=%d replayed=%s", order_id, refund_id, outcome.points,
             outcome.replayed)
    return jsonify(order_id=order_id, refund_id=refund_id, points_reversed=outcome.points,
                   growth_reversed=outcome.growth, replayed=outcome.replayed,
                   **({"points_cancelled": outcome.pending} if outcome.pending else {})), \
        200 if outcome.replayed else 201


@bp.errorhandler(Exception)
def unexpected(exc: Exception):
    """Anything else is ours: logged, and still a JSON answer the caller can retry on."""
    if isinstance(exc, HTTPException):
        return _error("bad_request", exc.description, exc.code)
    log.exception("api failed")
    return _error("internal", "the request failed on our side; retry later", 500)


@bp.app_errorhandler(HTTPException)
def routing_error(exc: HTTPException):
    """No route or method under /api/ (the blueprint's own handlers never see these): JSON too."""
    if request.path.startswith(bp.url_prefix + "/"):
        return _error("not_found" if exc.code == 404 else "bad_request", exc.description, exc.code)
    return exc
