"""The admin API's reports: each of `flask --app wsgi reports ...` as its figures in JSON under
/reports/NAME, and with `.png` appended its chart (bot/reports/charts.py), like the listings'
`.csv`. The figures are the CLI's (bot/reports/figures.py), read within the caller's scope; the
period is China dates, both ends included, by default the last 30 days; an until before since
is an empty period, as in /qr/stats (no figures, not an error)."""
from datetime import date, timedelta
from typing import Callable

from flask import Response, current_app
from sqlalchemy import select

from bot.admin import schemas
from bot.admin.views import auth, bp, caller, fail, session
from bot.qr.stats import bounds, china_today
from bot.reports import charts, figures
from models import Account, Store

# A report's build: (db, scope, query) -> (its JSON body, a function drawing its chart)
Build = Callable[..., tuple[dict, Callable[[], bytes]]]
BAD_PERIOD = {400: "a date is not a China date of 2000-2099"}
TREND_DAYS = 366        # the CLI's --days at most


def _today() -> date:
    return china_today(current_app.extensions["clock"].now())


def _window(query: dict) -> tuple[date, date]:
    last = query.get("until") or _today()
    return query.get("since") or last - timedelta(days=29), last


def _report(name: str, query_schema, output_schema, responses: dict | None = None):
    """Serve `build` as GET /reports/NAME (JSON) and /reports/NAME.png (its chart)."""
    def register(build: Build) -> Build:
        summary, _, description = (build.__doc__ or name).partition("\n")

        def run(query_data):
            with session() as db:
                return build(db, caller(), query_data)

        def as_json(query_data):
            return run(query_data)[0]

        def as_png(query_data):
            return Response(run(query_data)[1](), mimetype="image/png")

        as_json.__doc__ = f"{summary}\n\n{description.strip()} Within the caller's scope."
        as_png.__doc__ = f"{summary}: chart\n\nThe same figures drawn as a PNG chart (matplotlib)."
        for view, suffix, output, kw in ((as_json, "", output_schema, {}),
                                         (as_png, ".png", schemas.Png, {"content_type": "image/png"})):
            view = bp.input(query_schema, location="query", arg_name="query_data")(view)
            view = bp.output(output, **kw)(view)
            view = bp.doc(responses={**BAD_PERIOD, **(responses or {})})(view)
            view = bp.auth_required(auth)(view)
            bp.add_url_rule(f"/reports/{name}{suffix}", endpoint=f"report_{name}{'_png' if suffix else ''}",
                            view_func=view, methods=["GET"])
        return build
    return register


@_report("funnel", schemas.FunnelQuery, schemas.Funnel, {404: "no such store in your scope"})
def funnel(db, scope, query):
    """Channel funnel
    Scans, follows, members and first purchases per store or per code (by), or of one store's codes."""
    first, last = _window(query)
    store_id = None
    if query.get("store"):
        store_id = db.scalar(select(Store.id).where(Store.code == query["store"], scope.where(Store)))
        if store_id is None:
            fail(404, "not_found", f"no store {query['store']} in your scope")
    lines = figures.funnel(db, query["by"], *bounds(first, last), store_id=store_id, scope=scope)
    counts = ("scans", "follows", "members", "first_purchases")
    body = {"by": query["by"], "since": first, "until": last,
            "lines": [{"key": ln.key, "name": ln.name, "label": ln.label, **{c: getattr(ln, c) for c in counts}}
                      for ln in lines],
            "total": {c: sum(getattr(ln, c) for ln in lines) for c in counts}}
    return body, lambda: charts.funnel_chart(first, last, lines)


@_report("points", schemas.Period, schemas.PointsReport)
def points(db, scope, query):
    """Points per month
    Points issued, spent and expired per China month, from the members' ledgers."""
    first, last = _window(query)
    rows = figures.points_by_month(db, *bounds(first, last), scope=scope)
    body = {"since": first, "until": last, "months": [{"month": month, **values} for month, values in rows.items()]}
    return body, lambda: charts.monthly_chart(charts.POINTS_TITLE, rows, charts.POINTS_SERIES)


@_report("mall", schemas.Period, schemas.MallReport)
def mall(db, scope, query):
    """Mall redemptions per month
    Redemptions not cancelled and their points per China month."""
    first, last = _window(query)
    rows = figures.mall_by_month(db, *bounds(first, last), scope=scope)
    body = {"since": first, "until": last, "months": [{"month": month, **values} for month, values in rows.items()]}
    return body, lambda: charts.monthly_chart(charts.MALL_TITLE, rows, charts.MALL_SERIES)


@_report("cs", schemas.Period, schemas.CsReport)
def cs(db, scope, query):
    """Customer-service times
    First-response and resolution minutes (median, mean) of the conversations opened in the period."""
    first, last = _window(query)
    t = figures.cs_times(db, *bounds(first, last), scope=scope)
    return {"since": first, "until": last, **vars(t)}, lambda: charts.cs_chart(first, last, t)


@_report("followers", schemas.FollowersQuery, schemas.FollowersReport, {404: "no such account"})
def followers(db, scope, query):
    """Follower trend
    Follows, unfollows and the following count per China day of an account, up to today and from at
    most 365 days before it (the trend walks back from today's count; since says where it began)."""
    first, last = _window(query)
    account = db.scalar(select(Account).where(Account.slug == query["account"]))
    if account is None:
        fail(404, "unknown_account", f"no account {query['account']}")
    today = _today()
    first, last = max(first, today - timedelta(days=TREND_DAYS - 1)), min(last, today)
    span = (today - first).days + 1
    trend = [d for d in figures.follower_trend(db, account.id, today, span, scope=scope) if d.day <= last] \
        if first <= last else []
    body = {"account": account.slug, "since": first, "until": last, "days": [vars(d) for d in trend]}
    title = f"{account.slug} 粉丝趋势 {first:%m-%d}~{last:%m-%d}"
    return body, lambda: charts.followers_chart(account.slug, trend, title)


@_report("surveys", schemas.Period, schemas.SurveysReport)
def surveys(db, scope, query):
    """Survey completion per guide
    Links sent and responses completed per guide, within the caller's scope."""
    first, last = _window(query)
    rows = figures.survey_completion(db, *bounds(first, last), scope=scope)
    body = {"since": first, "until": last,
            "guides": [{"guide": guide, "sent": sent, "completed": done} for guide, sent, done in rows]}
    return body, lambda: charts.surveys_chart(first, last, rows)
