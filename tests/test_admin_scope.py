"""Data scope everywhere: every listing of the admin API (JSON and CSV) and of `admin list|export`
shows an operator exactly the stores of their reach: hq all three, the C1 company admin SA and
SB, the SA store manager (an operator, or a staff manager by phone) SA only; survey results too,
on the API and at `surveys results --as`; and the API's reports, their figures counted here from
the rows."""
import csv
import io
import json
from collections import Counter
from datetime import datetime, time, timedelta, timezone

import pytest
from sqlalchemy import func, select

from admin_support import GUIDES, MANAGER_PHONE, PHONES, REACH, markers
from bot.admin.api import PATHS, PREFIX
from bot.admin.listings import LISTINGS, STORE_DATA
from bot.clock import CST
from bot.reports import figures
from models import (Conversation, Fan, LedgerEntry, MallOrder, Member, Purchase, QrCode, QrEvent, Staff, SurveyLink,
                    SurveyResponse)
from models.mall import CANCELLED
from models.points import EARN, EXPIRE, POINTS, SPEND
from models.qr import CONVERTED, FOLLOW, REFOLLOW

OPERATORS = ["boss", "c1admin", "samgr"]


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


@pytest.fixture
def admin_get(app, operators):
    client = app.test_client()

    def get(who: str, path: str, **query):
        return client.get(PREFIX + path, query_string=query, headers=operators.auth(who))
    return get


def path_of(name: str) -> str:
    return PATHS.get(name, f"/{name}")


def test_the_store_data_listings_are_every_listing_but_configuration_and_audit():
    assert set(LISTINGS) - set(STORE_DATA) == {"rules", "audit"}
    assert {"fans", "members", "ledger", "purchases", "mall_orders", "qr_codes", "qr_events",
            "conversations", "messages", "tags", "surveys", "survey_responses"} == set(STORE_DATA)


@pytest.mark.parametrize("name", STORE_DATA)
def test_every_api_listing_and_export_shows_each_operator_only_their_stores(admin_get, name):
    for who in OPERATORS:
        page = admin_get(who, path_of(name), per_page=100)
        assert page.status_code == 200, page.get_json()
        body = page.get_json()
        assert markers(body["items"]) == REACH[who], (name, who)
        assert body["total"] == len(body["items"])
        exported = admin_get(who, path_of(name) + ".csv")
        assert exported.status_code == 200 and exported.mimetype == "text/csv"
        rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
        assert markers(rows) == REACH[who], (name, who, "csv")
        assert len(rows) == body["total"]


@pytest.mark.parametrize("name", STORE_DATA)
def test_every_command_listing_and_export_shows_each_asker_only_their_stores(cli, operators, name, tmp_path):
    for who in [*OPERATORS, MANAGER_PHONE]:
        listed = cli("admin", "list", name, "--as", who, "--per-page", "1000")
        assert listed.exit_code == 0, listed.output
        assert markers(listed.output) == REACH[who], (name, who)
        out = tmp_path / f"{name}-{who}.csv"
        exported = cli("admin", "export", name, "--as", who, "--out", str(out))
        assert exported.exit_code == 0, exported.output
        assert markers(out.read_text(encoding="utf-8")) == REACH[who], (name, who, "csv")


def test_without_as_the_machine_operator_sees_everything_and_strangers_nothing(cli, operators):
    assert markers(cli("admin", "list", "members").output) == {"SA", "SB", "SC"}
    for stranger in ("nobody", "13700000000"):
        refused = cli("admin", "list", "members", "--as", stranger)
        assert refused.exit_code != 0 and "not allowed" in refused.output
        assert "mk" not in refused.output


def test_a_store_manager_cannot_reach_another_stores_rows_by_id(admin_get, operators):
    sb_member, sb_talk = operators.members["SB"], operators.conversations["SB"]
    for path in (f"/members/{sb_member}/ledger", f"/conversations/{sb_talk}/messages"):
        refused = admin_get("samgr", path)
        assert refused.status_code == 404 and refused.get_json()["error"] == "not_found"
        assert admin_get("c1admin", path).status_code == 200
    own = admin_get("samgr", f"/members/{operators.members['SA']}/ledger").get_json()
    assert markers(own["items"]) == {"SA"} and own["total"] == 2      # the award and the mall spend


def test_qr_statistics_count_only_the_callers_codes(admin_get, operators):
    for who in OPERATORS:
        stats = admin_get(who, "/qr/stats", by="code").get_json()
        counted = {line["label"] for line in stats["lines"] if line["follows"]}
        assert markers(counted) == REACH[who]
        assert stats["total"]["follows"] == len(REACH[who])


def test_phones_are_whole_for_hq_only_and_search_by_phone_works_in_scope(admin_get, operators):
    whole = admin_get("boss", "/members", phone="13811110002").get_json()["items"]
    assert [m["phone"] for m in whole] == ["13811110002"]
    masked = admin_get("c1admin", "/members", phone="138 1111 0002").get_json()["items"]
    assert [m["phone"] for m in masked] == ["138****0002"]
    assert admin_get("samgr", "/members", phone="13811110002").get_json()["total"] == 0
    talk = admin_get("c1admin", f"/conversations/{operators.conversations['SA']}/messages").get_json()["items"]
    assert "138****0001" in talk[0]["content"] and "13811110001" not in talk[0]["content"]
    bad = admin_get("boss", "/members", phone="12345")
    assert bad.status_code == 400 and bad.get_json()["error"] == "invalid_request"
    assert "mainland mobile" in str(bad.get_json()["detail"])


def test_a_bad_filter_at_the_command_line_says_what_it_should_be(cli, operators):
    bad = cli("admin", "list", "members", "--where", "phone=12345")
    assert bad.exit_code != 0 and "mainland mobile number" in bad.output
    unknown = cli("admin", "list", "members", "--where", "colour=red")
    assert unknown.exit_code != 0 and "members filters are phone, store, level" in unknown.output


def test_the_chat_managers_store_scope_is_the_same_rule(cli, operators):
    """A staff manager by phone and the SA operator see the same rows of every listing."""
    for name in STORE_DATA:
        as_staff = cli("admin", "list", name, "--as", MANAGER_PHONE, "--per-page", "1000").output
        as_operator = cli("admin", "list", name, "--as", "samgr", "--per-page", "1000").output
        assert as_staff.splitlines()[1:] == as_operator.splitlines()[1:], name


def test_a_survey_several_stores_use_shows_each_caller_the_counts_of_their_links(admin_get, cli, operators):
    for who, links in (("boss", 3), ("c1admin", 2), ("samgr", 1)):
        listed = {s["code"]: s for s in admin_get(who, "/surveys").get_json()["items"]}
        assert set(listed) == {"shared"} | {f"mk{code}-survey" for code in REACH[who]}, who
        assert (listed["shared"]["links"], listed["shared"]["opened"], listed["shared"]["completed"]) == (links,) * 3
    assert "mkSB" not in cli("admin", "list", "surveys", "--as", MANAGER_PHONE).output


def test_a_store_manager_reads_no_response_of_another_stores_survey(admin_get, operators):
    for path in ("/surveys/mkSB-survey/responses", "/surveys/mkSB-survey/responses.csv", "/surveys/nope/responses",
                 "/surveys/%00/responses", "/surveys/" + "x" * 300 + "/responses"):
        refused = admin_get("samgr", path)
        assert refused.status_code == 404 and refused.get_json()["error"] == "not_found", path
    assert admin_get("c1admin", "/surveys/mkSB-survey/responses").get_json()["total"] == 1
    shared = admin_get("samgr", "/surveys/shared/responses").get_json()["items"]
    assert markers(shared) == {"SA"} and [r["phone"] for r in shared] == ["138****0001"]
    assert shared[0]["answers"] == {"said": "mkSA 很好，电话 138****0001"} and shared[0]["guide_phone"] == "139****0001"
    whole = admin_get("boss", "/surveys/shared/responses", guide=GUIDES["SB"]).get_json()["items"]
    assert [(r["store"], r["phone"], r["group"]) for r in whole] == [("SB", "13811110002", "mkSB")]
    assert admin_get("c1admin", "/surveys/shared/responses", group="mkSC").get_json()["total"] == 0
    assert admin_get("c1admin", "/surveys/shared/responses", completed="false").get_json()["total"] == 0
    exported = admin_get("c1admin", "/surveys/shared/responses.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert sorted(r["store"] for r in rows) == ["SA", "SB"]
    assert json.loads(rows[0]["answers"])["said"].endswith("138****0002")


def test_survey_results_at_the_command_line_keep_to_the_askers_reach(cli, operators):
    def lines(*args):
        result = cli("surveys", "results", "shared", *args)
        assert result.exit_code == 0, result.output
        return result.output
    assert markers(lines()) == {"SA", "SB", "SC"}
    for who in [*OPERATORS, MANAGER_PHONE]:
        table = lines("--as", who)
        assert markers(table) == REACH[who] and table.count("\nlink ") == len(REACH[who]), who
        assert f"said\t意见\tanswered {len(REACH[who])}" in table
    rows = list(csv.DictReader(io.StringIO(lines("--as", "c1admin", "--format", "csv"))))
    assert sorted((r["store"], r["member_phone"]) for r in rows) == [("门店SA", "138****0001"), ("门店SB", "138****0002")]
    hq = list(csv.DictReader(io.StringIO(lines("--as", "boss", "--format", "csv"))))
    assert sorted(r["member_phone"] for r in hq) == list(PHONES.values())
    refused = cli("surveys", "results", "mkSB-survey", "--as", "samgr")
    assert refused.exit_code != 0 and "no survey mkSB-survey in operator:samgr's scope" in refused.output
    stranger = cli("surveys", "results", "shared", "--as", "13700000000")
    assert stranger.exit_code != 0 and "not allowed" in stranger.output


def utc(at: datetime) -> datetime:
    """A time the database hands back, aware (an aggregate over SQLite comes back naive UTC)."""
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def china_window(clock):
    """The last 30 China days as the API's since/until and as UTC [start, end)."""
    until = clock.now().astimezone(CST).date()
    since = until - timedelta(days=29)
    return ({"since": since.isoformat(), "until": until.isoformat()},
            datetime.combine(since, time(), CST), datetime.combine(until + timedelta(days=1), time(), CST))


def test_the_funnel_counts_the_callers_stores_and_codes_only(admin_get, operators, db, clock):
    period, start, end = china_window(clock)
    db.rollback()
    events = db.execute(select(QrEvent.kind, QrEvent.scanned, QrCode.store_id, QrEvent.code_id).join(
        QrCode, QrCode.id == QrEvent.code_id).where(QrEvent.at >= start, QrEvent.at < end)).all()
    firsts = db.execute(select(Fan.store_id, func.min(Purchase.paid_at)).join(Purchase, Purchase.member_id == Fan.member_id)
                        .group_by(Fan.member_id, Fan.store_id)).all()
    for who in OPERATORS:
        ids = {operators.stores[code] for code in REACH[who]}
        body = admin_get(who, "/reports/funnel", by="store", **period).get_json()
        got = {ln["key"]: (ln["scans"], ln["follows"], ln["members"], ln["first_purchases"]) for ln in body["lines"]}
        assert got == {sid: (sum(e.scanned for e in events if e.store_id == sid),
                             sum(e.kind in (FOLLOW, REFOLLOW) for e in events if e.store_id == sid),
                             sum(e.kind == CONVERTED for e in events if e.store_id == sid),
                             sum(1 for store, first in firsts if store == sid and start <= utc(first) < end))
                       for sid in ids}, who
        assert body["total"]["follows"] == len(ids) and body["total"]["first_purchases"] == len(ids)
        by_code = admin_get(who, "/reports/funnel", by="code", **period).get_json()["lines"]
        assert {ln["key"] for ln in by_code} == {operators.codes[code] for code in REACH[who]}
        assert markers([ln["label"] for ln in by_code]) == REACH[who]
    one = admin_get("c1admin", "/reports/funnel", by="code", store="SB").get_json()["lines"]
    assert [ln["key"] for ln in one] == [operators.codes["SB"]]
    for store in ("SB", "SC", "nope"):
        refused = admin_get("samgr", "/reports/funnel", store=store)
        assert refused.status_code == 404 and refused.get_json()["error"] == "not_found"


def test_points_mall_cs_and_followers_reports_count_the_callers_stores_only(admin_get, operators, db, clock, account):
    period, start, end = china_window(clock)
    db.rollback()

    def month(at):
        return utc(at).astimezone(CST).strftime("%Y-%m")
    ledger = db.execute(select(LedgerEntry.created_at, LedgerEntry.kind, LedgerEntry.delta, Member.home_store_id)
                        .join(Member, Member.id == LedgerEntry.member_id)
                        .where(LedgerEntry.ledger == POINTS, LedgerEntry.kind.in_((EARN, SPEND, EXPIRE)))).all()
    orders = db.execute(select(MallOrder.created_at, MallOrder.points, Member.home_store_id).join(
        Member, Member.id == MallOrder.member_id).where(MallOrder.status != CANCELLED)).all()
    conversations = db.execute(select(Conversation.store_id)).scalars().all()
    fans = db.execute(select(Fan.id, Fan.store_id, Fan.following).where(Fan.account_id == account.id)).all()
    follows = db.execute(select(QrEvent.fan_id).where(QrEvent.kind.in_((FOLLOW, REFOLLOW)))).scalars().all()
    for who in OPERATORS:
        ids = {operators.stores[code] for code in REACH[who]}
        points = {m.pop("month"): m for m in admin_get(who, "/reports/points", **period).get_json()["months"]}
        expected = {}
        for at, kind, delta, store in ledger:
            if store in ids:
                row = expected.setdefault(month(at), {"issued": 0, "spent": 0, "expired": 0})
                row[{EARN: "issued", SPEND: "spent", EXPIRE: "expired"}[kind]] += abs(delta)
        assert points == expected and sum(m["spent"] for m in points.values()) == 100 * len(ids), who
        mall = admin_get(who, "/reports/mall", **period).get_json()["months"]
        mine = [(month(at), p) for at, p, store in orders if store in ids]
        assert {m["month"]: (m["orders"], m["points"]) for m in mall} == {
            k: (n, sum(p for mo, p in mine if mo == k)) for k, n in Counter(mo for mo, _ in mine).items()}
        cs = admin_get(who, "/reports/cs", **period).get_json()
        assert (cs["opened"], cs["answered"], cs["first_response_median_min"]) == (
            sum(s in ids for s in conversations), 0, None)
        trend = admin_get(who, "/reports/followers", account=account.slug, **period).get_json()["days"]
        theirs = {f.id for f in fans if f.store_id in ids}
        assert len(trend) == 30 and trend[-1]["following"] == sum(f.following for f in fans if f.store_id in ids)
        assert sum(d["follows"] for d in trend) == sum(fan in theirs for fan in follows) == len(ids), who


def test_the_surveys_report_counts_each_guides_links_and_completions_in_scope(admin_get, operators):
    """Each store's guide sent two links (their store's survey, the shared one), each completed once:
    every operator sees exactly the guides of their reach with those counts."""
    for who in OPERATORS:
        body = admin_get(who, "/reports/surveys").get_json()
        assert markers(body["guides"]) == REACH[who], who
        assert {(g["sent"], g["completed"]) for g in body["guides"]} == {(2, 2)}
