"""The admin JSON API's writes and refusals: tokens (printed once, only a hash kept, revocable),
an audit row for every write with who, what, when, before and after, errors as JSON with a code,
and interactive docs in the sandbox only."""
import struct

import pytest
from sqlalchemy import select

from bot import create_app
from bot.admin.api import PREFIX
from bot.scope import hash_token
from bot.telling import Teller
from models import AuditEntry, LedgerEntry, MallOrder, Member, Operator, OutboundMessage, Product, QrCode


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


@pytest.fixture
def call(app, operators):
    client = app.test_client()

    def send(who, method, path, body=None, **query):
        return client.open(PREFIX + path, method=method, json=body, query_string=query, headers=operators.auth(who))
    return send


def audits(db, action=None):
    db.rollback()
    query = select(AuditEntry).order_by(AuditEntry.id)
    return list(db.scalars(query.where(AuditEntry.action == action) if action else query))


def test_a_token_is_printed_once_stored_as_a_hash_and_refused_once_revoked(app, db, cli, operators, call):
    db.rollback()
    stored = db.scalar(select(Operator).where(Operator.name == "samgr"))
    assert stored.token_hash == hash_token(operators.tokens["samgr"]) and operators.tokens["samgr"] not in stored.token_hash
    assert operators.tokens["samgr"] not in cli("operators", "list").output
    assert call("samgr", "GET", "/members").status_code == 200
    assert "revoked" in cli("operators", "revoke", "samgr").output
    refused = call("samgr", "GET", "/members")
    assert refused.status_code == 401 and refused.get_json()["error"] == "revoked_token"
    assert call("samgr", "GET", "/members.csv").status_code == 401
    assert "revoked" in cli("operators", "list").output
    assert "not allowed" in cli("admin", "list", "members", "--as", "samgr").output
    operators.tokens["samgr"] = "op_" + "x" * 43
    assert call("samgr", "GET", "/members").get_json()["error"] == "invalid_token"
    assert app.test_client().get(PREFIX + "/members").get_json()["error"] == "unauthorized"


def test_operator_commands_refuse_bad_input_and_say_what_to_do(cli, operators):
    assert "exists" in cli("operators", "add", "boss", "--role", "hq").output
    assert "--company CODE" in cli("operators", "add", "x1", "--role", "company", "--company", "C9").output
    assert "--store CODE" in cli("operators", "add", "x2", "--role", "store").output
    assert "no --company" in cli("operators", "add", "x3", "--role", "hq", "--store", "SA").output
    assert "no operator" in cli("operators", "revoke", "ghost").output


def test_points_adjust_goes_through_the_ledger_once_per_key_with_an_audit_row(db, call, operators, monkeypatch):
    told = []
    tell = Teller.tell
    monkeypatch.setattr(Teller, "tell", lambda self, person, what: (told.append(what), tell(self, person, what)))
    member = operators.members["SA"]
    body = {"delta": 50, "reason": "活动补发", "key": "fix-1"}
    first = call("samgr", "POST", f"/members/{member}/points", body)
    assert first.status_code == 200, first.get_json()
    assert first.get_json() == {"member_id": member, "delta": 50, "points": 450,
                                "entry_id": first.get_json()["entry_id"], "replayed": False}
    again = call("samgr", "POST", f"/members/{member}/points", body)
    assert again.get_json()["replayed"] is True and again.get_json()["points"] == 450
    db.rollback()
    # the member is told once, through the API's Teller, on the account they follow
    assert told == ["活动补发：积分 +50。当前积分 450。"]
    assert db.scalars(select(OutboundMessage.content).where(OutboundMessage.openid == "o-mkSA-fan",
                                                            OutboundMessage.content.contains("活动补发"))).all() == told
    entry = db.get(LedgerEntry, first.get_json()["entry_id"])
    assert (entry.delta, entry.reason, entry.actor) == (50, "活动补发", "operator:samgr")
    [row] = audits(db, "points.adjust")
    assert (row.actor, row.target_type, row.target_id) == ("operator:samgr", "member", str(member))
    assert row.before == {"points": 400} and row.after["points"] == 450 and row.after["reason"] == "活动补发"
    assert row.at == entry.created_at
    short = call("samgr", "POST", f"/members/{member}/points", {"delta": -9999, "reason": "扣回", "key": "k2"})
    assert short.status_code == 409 and short.get_json()["error"] == "not_enough_points"
    zero = call("samgr", "POST", f"/members/{member}/points", {"delta": 0, "reason": "x", "key": "k3"})
    assert zero.status_code == 400 and zero.get_json()["error"] == "invalid_field"
    other = call("samgr", "POST", f"/members/{operators.members['SB']}/points", {**body, "key": "k4"})
    assert other.status_code == 404
    assert len(audits(db, "points.adjust")) == 1


def test_ship_and_cancel_go_through_the_mall_with_audit_rows_and_stay_in_scope(db, call, operators):
    sa, sb = operators.orders["SA"], operators.orders["SB"]
    assert call("samgr", "POST", f"/mall/orders/{sb}/ship", {"tracking": "SF1"}).status_code == 404
    shipped = call("samgr", "POST", f"/mall/orders/{sa}/ship", {"tracking": "SF1", "carrier": "顺丰"})
    assert shipped.status_code == 200 and shipped.get_json()["status"] == "shipped"
    assert call("samgr", "POST", f"/mall/orders/{sa}/ship", {"tracking": "SF1", "carrier": "顺丰"}).status_code == 200
    [ship] = audits(db, "mall.ship")
    assert ship.before["status"] == "placed" and ship.after["tracking"] == "SF1"
    shipping_notices = select(OutboundMessage.content).where(OutboundMessage.openid == "o-mkSA-fan",
                                                            OutboundMessage.content.contains("已发货"))
    assert db.scalars(shipping_notices).all() == ["您兑换的mkSA 礼品已发货：顺丰 SF1。"]   # told once
    cancelled = call("c1admin", "POST", f"/mall/orders/{sb}/cancel", {"reason": "缺货"})
    assert cancelled.get_json()["status"] == "cancelled"
    assert call("c1admin", "POST", f"/mall/orders/{sb}/cancel", {"reason": "缺货"}).status_code == 200
    [cancel] = audits(db, "mall.cancel")
    assert (cancel.actor, cancel.before["status"], cancel.after["cancel_reason"]) == \
        ("operator:c1admin", "placed", "缺货")
    db.rollback()
    assert db.get(Member, operators.members["SB"]).points == 500           # refunded once
    assert db.scalar(select(Product.stock).where(Product.code == "gift-SB")) == 5
    late = call("boss", "POST", f"/mall/orders/{sb}/ship", {"tracking": "SF2"})
    assert late.status_code == 409 and late.get_json()["error"] == "refused" and "已取消" in late.get_json()["message"]
    assert db.get(MallOrder, sb).status == "cancelled"


def test_qr_codes_are_created_in_scope_with_an_audit_row_and_a_job_for_their_tickets(db, call, operators, jobs):
    made = call("samgr", "POST", "/qr/codes", {"account": "hq", "channel": "地推", "count": 2})
    assert made.status_code == 201, made.get_json()
    ids = made.get_json()["ids"]
    db.rollback()
    assert {db.get(QrCode, i).store_id for i in ids} == {operators.stores["SA"]}
    assert jobs.queued().count("workers.qr_tickets.issue_codes") == 1
    jobs.run_all()
    db.rollback()
    assert all(db.get(QrCode, i).ticket for i in ids) and jobs.failed() == 0
    [row] = audits(db, "qr.create")
    assert row.actor == "operator:samgr" and row.after["ids"] == ids and row.after["store"] == "SA"
    outside = call("samgr", "POST", "/qr/codes", {"account": "hq", "store": "SB"})
    assert outside.status_code == 403 and outside.get_json()["error"] == "forbidden"
    unknown = call("boss", "POST", "/qr/codes", {"account": "nope"})
    assert unknown.status_code == 409 and "no account nope" in unknown.get_json()["message"]
    listed = call("samgr", "GET", "/qr/codes", channel="地推").get_json()
    assert sorted(item["id"] for item in listed["items"]) == sorted(ids)
    assert len(audits(db)) == 1


def test_every_write_leaves_one_audit_row_and_audit_is_read_in_scope(db, call, operators):
    call("samgr", "POST", f"/members/{operators.members['SA']}/points", {"delta": 5, "reason": "补", "key": "a"})
    call("c1admin", "POST", f"/mall/orders/{operators.orders['SB']}/cancel", {"reason": "取消"})
    call("boss", "POST", f"/mall/orders/{operators.orders['SC']}/ship", {"tracking": "T9"})
    call("boss", "POST", "/qr/codes", {"account": "hq", "store": "SC"})
    assert [(a.actor, a.action) for a in audits(db)] == [
        ("operator:samgr", "points.adjust"), ("operator:c1admin", "mall.cancel"),
        ("operator:boss", "mall.ship"), ("operator:boss", "qr.create")]
    assert call("boss", "GET", "/audit").get_json()["total"] == 4
    own = call("samgr", "GET", "/audit").get_json()["items"]
    assert [a["action"] for a in own] == ["points.adjust"]


def test_errors_are_json_with_a_code(call, operators):
    for response, code in ((call("boss", "GET", "/nowhere"), "not_found"),
                           (call("boss", "GET", "/members", per_page=1000), "invalid_request"),
                           (call("boss", "POST", f"/members/{operators.members['SA']}/points", {"delta": "x"}),
                            "invalid_request"),
                           (call("boss", "DELETE", "/members"), "method_not_allowed"),
                           (call("boss", "GET", f"/members/{2**40}/ledger"), "not_found")):
        assert response.is_json and response.get_json()["error"] == code, response.get_data(as_text=True)
        assert response.get_json()["message"]


PNG = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk, the first after the signature."""
    assert data[:8] == PNG and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("path, query", [("/reports/funnel", {"by": "code"}), ("/reports/points", {}),
                                         ("/reports/mall", {}), ("/reports/cs", {}),
                                         ("/reports/followers", {"account": "hq"}), ("/reports/surveys", {})])
def test_each_reports_chart_is_a_png_that_matplotlib_drew(call, account, path, query):
    assert account.slug == "hq"
    chart = call("samgr", "GET", path + ".png", **query)
    assert chart.status_code == 200 and chart.mimetype == "image/png"
    width, height = png_size(chart.data)
    # charts.py's figures: at least 7.5 x 4.5 inches at 144 dpi, and drawn (not an empty canvas)
    assert width >= 1080 and height >= 648 and len(chart.data) > 10_000
    assert call("samgr", "GET", path, **query).is_json


def test_report_refusals_are_json_with_a_code(call, operators):
    for response, status, code in (
            (call("boss", "GET", "/reports/points", since="2026-13-01"), 400, "invalid_request"),
            (call("boss", "GET", "/reports/funnel.png", until="yesterday"), 400, "invalid_request"),
            (call("boss", "GET", "/reports/mall", since="0001-01-01"), 400, "invalid_request"),
            (call("boss", "GET", "/reports/funnel", by="staff"), 400, "invalid_request"),
            (call("boss", "GET", "/reports/followers"), 400, "invalid_request"),
            (call("boss", "GET", "/reports/followers", account="nope"), 404, "unknown_account"),
            (call("boss", "GET", "/reports/followers.png", account="nope"), 404, "unknown_account"),
            (call("samgr", "GET", "/reports/funnel.png", store="SB"), 404, "not_found")):
        assert response.status_code == status and response.is_json, response.get_data(as_text=True)
        assert response.get_json()["error"] == code and response.get_json()["message"]


def test_an_until_before_since_is_an_empty_period_and_the_trend_reaches_back_a_year_at_most(call, operators):
    empty = call("boss", "GET", "/reports/funnel", since="2026-11-20", until="2026-11-01").get_json()
    assert empty["lines"] == [] and empty["total"]["scans"] == 0
    assert call("boss", "GET", "/reports/cs", since="2026-11-20", until="2026-11-01").get_json()["opened"] == 0
    year = call("boss", "GET", "/reports/followers", account="hq", since="2024-01-01").get_json()
    assert (year["since"], year["until"], len(year["days"])) == ("2025-11-23", "2026-11-23", 366)
    assert call("boss", "GET", "/reports/followers", account="hq", since="2027-01-01", until="2027-02-01"
                ).get_json()["days"] == []


def test_the_description_is_openapi_and_the_docs_are_served_in_the_sandbox_only(app, database_url, redis, clock):
    client = app.test_client()
    spec = client.get(PREFIX + "/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and "/members/{member_id}/points" in spec["paths"]
    assert spec["components"]["securitySchemes"]
    assert client.get(PREFIX + "/docs").status_code == 200
    production = create_app({"TESTING": True, "DATABASE_URL": database_url, "REDIS": redis, "CLOCK": clock,
                             "SANDBOX": False, "SECRET_KEY": "k" * 32, "JOBS_INLINE": False})
    other = production.test_client()
    assert other.get(PREFIX + "/docs").status_code == 404
    assert other.get(PREFIX + "/openapi.json").status_code == 200
    assert production.test_client().get("/wechat/hq").status_code != 200      # the webhook is untouched

