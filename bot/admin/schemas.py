"""The admin API's schemas: APIFlask turns them into the OpenAPI description and validates with them."""
from datetime import date

from apiflask import Schema
from apiflask.fields import Boolean, Date, DateTime, Dict, File, Float, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range, Regexp
from marshmallow import RAISE
from marshmallow import fields as ma_fields

from bot.admin.listings import BOOL, DATE, INT, JSON, LISTINGS, PHONE, TIME

MAX_ID = 2**31 - 1          # ids are INTEGER columns: a larger number is no row of ours
# Text that PostgreSQL can store: no NUL character (it refuses them in a string literal).
NO_NUL = Regexp(r"^[^\x00]*$", error="must not contain NUL characters")
# What bot/phones.py reads as a mainland mobile: 11 digits from 13-19, "+86"/"86", spaces, dashes.
PHONE_PATTERN = Regexp(r"^(\+86|86)?[ -]*1[3-9]([ -]*[0-9]){9}[ ]*$",
                       error="must be a mainland mobile number like 13800000000")


def text(max_length: int, required: bool = False, min_length: int = 0, **kw):
    return String(required=required, validate=[Length(min=min_length, max=max_length), NO_NUL], **kw)


def ident(**kw):
    return Integer(validate=Range(min=1, max=MAX_ID), **kw)


class Strict(Schema):
    """An input schema that refuses names it does not know (a mistyped filter is an error, not
    a silently wider listing)."""

    class Meta:
        unknown = RAISE


class Error(Schema):
    error = String(required=True, metadata={"description": "a stable code, e.g. not_found, invalid_token"})
    message = String(required=True)
    detail = Dict()


class Csv(Schema):
    file = File()


def _output_field(kind: str):
    if kind == INT:
        return Integer(allow_none=True)
    if kind == BOOL:
        return Boolean(allow_none=True)
    if kind == TIME:
        return DateTime(allow_none=True)
    if kind == DATE:
        return Date(allow_none=True)
    if kind == JSON:
        return Dict(allow_none=True)
    return String(allow_none=True, metadata={"description": "masked unless the caller is HQ"}
                  if kind == PHONE else {})


def _filter_field(kind: str):
    if kind == INT:
        return ident()
    if kind == BOOL:
        return Boolean()
    if kind == PHONE:
        return String(validate=[Length(max=24), PHONE_PATTERN])
    return text(64)


def _title(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def _query(listing, name: str, fixed: tuple[str, ...] = ()) -> type:
    """Paging and the listing's filters, but those the path fixes."""
    return Strict.from_dict(
        {"page": Integer(load_default=1, validate=Range(min=1, max=1_000_000)),
         "per_page": Integer(load_default=20, validate=Range(min=1, max=100)),
         **{f: _filter_field(kind) for f, (kind, _apply) in listing.filters.items() if f not in fixed}},
        name=name)


_QUERIES: dict[str, type] = {}
_PAGES: dict[str, type] = {}
for _name, _listing in LISTINGS.items():
    _item = Schema.from_dict({c: _output_field(k) for c, k in _listing.columns.items()},
                             name=f"{_title(_name)}Item")
    _PAGES[_name] = Schema.from_dict({"items": List(Nested(_item), required=True),
                                      "page": Integer(required=True), "per_page": Integer(required=True),
                                      "total": Integer(required=True)}, name=f"{_title(_name)}Page")
    _QUERIES[_name] = _query(_listing, f"{_title(_name)}Query")


def query_for(name: str) -> type:
    return _QUERIES[name]


# /surveys/{code}/responses: the survey is the path's
ONE_SURVEYS_RESPONSES = _query(LISTINGS["survey_responses"], "OneSurveysResponsesQuery", fixed=("survey",))


def page_for(name: str) -> type:
    return _PAGES[name]


class Paging(Strict):
    page = Integer(load_default=1, validate=Range(min=1, max=1_000_000))
    per_page = Integer(load_default=20, validate=Range(min=1, max=100))


class PointsAdjust(Strict):
    delta = Integer(required=True, validate=Range(min=-1_000_000, max=1_000_000),
                    metadata={"description": "points to add (negative: deduct); not 0"})
    reason = text(120, required=True, min_length=1, metadata={"description": "what the member is told"})
    key = text(64, required=True, min_length=1,
               metadata={"description": "your id of this adjustment: a retry with the same key changes nothing"})


class PointsAdjusted(Schema):
    member_id = Integer(required=True)
    delta = Integer(required=True)
    points = Integer(required=True)
    entry_id = Integer(required=True)
    replayed = Boolean(required=True)


class Ship(Strict):
    tracking = text(64, required=True, min_length=1)
    carrier = text(64)


class Cancel(Strict):
    reason = text(120, required=True, min_length=1)


class Order(Schema):
    id = Integer(required=True)
    member_id = Integer(required=True)
    product_name = String(required=True)
    points = Integer(required=True)
    status = String(required=True)
    carrier = String(allow_none=True)
    tracking = String(allow_none=True)
    cancel_reason = String(allow_none=True)


class QrCreate(Strict):
    account = text(32, required=True, min_length=1, metadata={"description": "the account's slug"})
    store = text(32, metadata={"description": "store code (a store manager's own store by default)"})
    channel = text(64)
    temporary_days = Integer(validate=Range(min=1, max=30), metadata={"description": "omit for permanent"})
    count = Integer(load_default=1, validate=Range(min=1, max=100))


class QrCreated(Schema):
    batch = String(required=True)
    ids = List(Integer(), required=True)
    waiting = Integer(required=True, metadata={"description": "codes whose WeChat ticket a job is getting"})


class StatsQuery(Strict):
    by = String(load_default="code", validate=OneOf(["code", "staff", "store"]))
    since = ma_fields.Date()
    until = ma_fields.Date()


class StatsLine(Schema):
    key = Integer(allow_none=True)
    name = String(required=True)
    label = String(required=True)
    scans = Integer(required=True)
    unique = Integer(required=True)
    follows = Integer(required=True)
    refollows = Integer(required=True)
    unfollows = Integer(required=True)
    members = Integer(required=True)
    net = Integer(required=True)


class Stats(Schema):
    by = String(required=True)
    lines = List(Nested(StatsLine), required=True)
    total = Nested(StatsLine, required=True)


class Png(Schema):
    file = File()


# Report periods: China dates, both ends included, of the years 2000-2099 (no row of ours is older,
# and the UTC bounds of year 1 or 9999 do not fit a datetime); the pattern says so in the description.
DAY = Range(min=date(2000, 1, 1), max=date(2099, 12, 31))
DAY_PATTERN = {"pattern": r"^20[0-9]{2}-[0-9]{2}-[0-9]{2}$"}


class Period(Strict):
    since = Date(validate=DAY, metadata={"description": "first China date (default: 29 days before until)",
                                         **DAY_PATTERN})
    until = Date(validate=DAY, metadata={"description": "last China date (default: today); "
                                                        "before since: an empty period", **DAY_PATTERN})


class FunnelQuery(Period):
    by = String(load_default="store", validate=OneOf(["store", "code"]))
    store = text(32, metadata={"description": "only this store's codes (a store code in your scope)"})


class FollowersQuery(Period):
    account = text(32, required=True, min_length=1, metadata={"description": "the account's slug"})


class FunnelCounts(Schema):
    scans = Integer(required=True)
    follows = Integer(required=True, metadata={"description": "first follows and re-follows"})
    members = Integer(required=True)
    first_purchases = Integer(required=True)


class FunnelLine(FunnelCounts):
    key = Integer(allow_none=True, metadata={"description": "store or code id; null: none of ours"})
    name = String(required=True)
    label = String(required=True)


class Funnel(Schema):
    by = String(required=True)
    since = Date(required=True)
    until = Date(required=True)
    lines = List(Nested(FunnelLine), required=True)
    total = Nested(FunnelCounts, required=True)


class PointsMonth(Schema):
    month = String(required=True, metadata={"description": "China month, 2026-11"})
    issued = Integer(required=True)
    spent = Integer(required=True)
    expired = Integer(required=True)


class PointsReport(Schema):
    since = Date(required=True)
    until = Date(required=True)
    months = List(Nested(PointsMonth), required=True)


class MallMonth(Schema):
    month = String(required=True)
    orders = Integer(required=True, metadata={"description": "redemptions not cancelled"})
    points = Integer(required=True)


class MallReport(Schema):
    since = Date(required=True)
    until = Date(required=True)
    months = List(Nested(MallMonth), required=True)


class CsReport(Schema):
    since = Date(required=True)
    until = Date(required=True)
    opened = Integer(required=True)
    answered = Integer(required=True)
    closed = Integer(required=True)
    first_response_median_min = Float(allow_none=True, required=True)
    first_response_mean_min = Float(allow_none=True, required=True)
    resolution_median_min = Float(allow_none=True, required=True)
    resolution_mean_min = Float(allow_none=True, required=True)


class FollowersDay(Schema):
    day = Date(required=True)
    follows = Integer(required=True)
    unfollows = Integer(required=True)
    following = Integer(required=True, metadata={"description": "at the end of the day"})


class FollowersReport(Schema):
    account = String(required=True)
    since = Date(required=True)
    until = Date(required=True)
    days = List(Nested(FollowersDay), required=True)


class SurveyGuide(Schema):
    guide = String(required=True)
    sent = Integer(required=True)
    completed = Integer(required=True)


class SurveysReport(Schema):
    since = Date(required=True)
    until = Date(required=True)
    guides = List(Nested(SurveyGuide), required=True)
