"""`points import-purchases FILE` (issue #3, Build 5): orders in bulk with the API's rules; the
whole file is checked first, every bad row named by its line, and a second run records nothing new."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from bot import points
from bot.points import import_purchases
from bot.points.policy import load
from bot.points.purchases import record_purchase
from bot.points.rules_file import parse
from models import Fan, LedgerEntry, Member, Purchase

ALICE, BOB = "13800000000", "13900000000"
HEADER = "order_id,phone,amount,paid_at,payment_method"
GOOD = [
    f"B-1,{ALICE},128.50,2026-11-20 10:00:00,cash",       # 12 points, 128 growth
    f"B-2,{ALICE},66.00,2026-11-21 11:00:00,wechat",      # 12 points, 132 growth (wechat x2)
    f"B-3,{BOB},200.00,2026-11-22 12:00:00,cash",         # 20 points, 200 growth
    f"B-4,{BOB},35.20,2026-11-22T15:00:00+08:00,alipay",  # 3 points, 35 growth
]
RULES = """\
rules:
  - id: purchase
    trigger: purchase
    points: {per: 10, award: 1}
    growth: {per: 1, award: 1}
    multipliers:
      payment: {wechat: 2}
"""


@pytest.fixture
def members(app, db):
    alice, bob = Member(phone=ALICE, level="member"), Member(phone=BOB, level="member")
    db.add_all([alice, bob])
    db.commit()
    with points.transaction(app) as book:
        load(book.db, parse(RULES))
    return alice, bob


@pytest.fixture
def csv_file(tmp_path):
    def write(rows: list[str], header: str = HEADER, name: str = "orders.csv", encoding: str = "utf-8") -> str:
        path = tmp_path / name
        path.write_bytes("\n".join([header, *rows, ""]).encode(encoding))
        return str(path)
    return write


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def invoke(path: str, *options: str):
        return runner.invoke(args=["points", "import-purchases", path, *options])
    return invoke


def recorded(db) -> list[tuple[str, str]]:
    db.rollback()
    return [(p.order_id, p.source) for p in db.scalars(select(Purchase).order_by(Purchase.order_id))]


def balances(db, *people: Member) -> list[tuple[int, int]]:
    db.rollback()
    db.expire_all()
    return [(db.get(Member, m.id).points, db.get(Member, m.id).growth) for m in people]


def ledger_size(db) -> int:
    db.rollback()
    return len(db.scalars(select(LedgerEntry.id)).all())


def record_b1(app, member: Member, amount_fen: int = 12850) -> None:
    """B-1 as the booking system's API recorded it earlier."""
    with points.transaction(app) as book:
        record_purchase(book, order_id="B-1", member_id=member.id, amount_fen=amount_fen,
                        paid_at=datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc), payment_method="cash",
                        source="booking")


def test_a_valid_file_records_every_order(run, csv_file, db, members):
    """Every order is recorded and paid as the API would, behind a progress bar, with a summary."""
    result = run(csv_file(GOOD))
    assert result.exit_code == 0, result.output
    assert "importing 4 orders" in result.output
    assert "4 orders recorded, 47 points awarded; 0 already recorded; 0 bad rows skipped" in result.output
    assert recorded(db) == [("B-1", "import"), ("B-2", "import"), ("B-3", "import"), ("B-4", "import")]
    assert balances(db, *members) == [(24, 260), (23, 235)]


@pytest.mark.parametrize("row, message", [
    (f"B-9,{ALICE},12.345,2026-11-20 10:00:00,cash", "amount '12.345' is not an amount of yuan > 0"),
    (f"B-9,{ALICE},-5,2026-11-20 10:00:00,cash", "amount '-5' is not an amount of yuan > 0"),
    (f"B-9,{ALICE},10.00,2026-13-45 10:00,cash", "paid_at '2026-13-45 10:00' is not a time"),
    ("B-9,13700000000,10.00,2026-11-20 10:00:00,cash", "no member for 137****0000"),
    (f"B-1,{ALICE},10.00,2026-11-20 10:00:00,cash", "order B-1 is also on line 2"),
    (f"B-9,{ALICE},10.00,2026-11-20 10:00:00,cash,extra", "more fields than columns"),
    (f"B-9,{ALICE},10.00,2026-11-20 10:00:00", "payment_method is empty"),
    (f",{ALICE},10.00,2026-11-20 10:00:00,cash", "order_id is empty"),
])
def test_a_bad_row_is_reported_by_line_and_nothing_is_written(run, csv_file, db, members, row, message):
    """The whole file is checked first: one bad row names its line and nothing is imported."""
    path = csv_file([GOOD[0], row, *GOOD[1:]])
    result = run(path)
    assert result.exit_code != 0
    assert f"{path}:3: {message}" in result.output, result.output
    assert "1 bad rows; nothing imported" in result.output
    assert "13700000000" not in result.output
    assert recorded(db) == [] and ledger_size(db) == 0


def test_every_bad_row_is_reported_at_once(run, csv_file, db, members):
    """All bad rows come back in one run, each with its own line number."""
    path = csv_file([GOOD[0], f"B-8,{ALICE},x,2026-11-20,cash", GOOD[1], f"B-9,{ALICE},1.00,soon,cash"])
    result = run(path)
    assert f"{path}:3: amount 'x'" in result.output and f"{path}:5: paid_at 'soon'" in result.output
    assert "2 bad rows; nothing imported" in result.output
    assert recorded(db) == []


def test_an_order_recorded_earlier_with_other_details_is_a_bad_row(app, run, csv_file, db, members):
    """The same order id with another amount than the API recorded is refused, by line."""
    record_b1(app, members[0], amount_fen=9900)
    path = csv_file(GOOD)
    result = run(path)
    assert result.exit_code != 0
    assert f"{path}:2: order B-1 was already recorded with other details" in result.output
    assert recorded(db) == [("B-1", "booking")]


def test_missing_columns_are_named(run, csv_file, db, members):
    """A header without a required column fails on line 1, naming the column."""
    path = csv_file(["B-1,13800000000,2026-11-20 10:00:00,cash"], header="order_id,phone,paid_at,payment_method")
    result = run(path)
    assert result.exit_code != 0 and f"{path}:1: missing columns amount" in result.output
    assert recorded(db) == []


def test_a_file_that_is_not_utf8_is_refused(run, csv_file, db, members):
    """A GBK file (Excel's default on Chinese Windows) is refused with a hint, not misread."""
    path = csv_file([f"B-1,{ALICE},10.00,2026-11-20 10:00:00,现金"], encoding="gbk")
    result = run(path)
    assert result.exit_code != 0 and "is not UTF-8 text (save the CSV as UTF-8)" in result.output
    assert recorded(db) == []


def test_an_excel_bom_is_accepted(run, csv_file, db, members):
    """Excel's "CSV UTF-8" starts with a BOM: the header is still read as order_id."""
    result = run(csv_file(GOOD, encoding="utf-8-sig"))
    assert result.exit_code == 0, result.output
    assert len(recorded(db)) == 4


def test_skip_bad_imports_the_good_rows(run, csv_file, db, members):
    """`--skip-bad` reports the bad rows and records the others."""
    path = csv_file([GOOD[0], "B-9,13700000000,10.00,2026-11-20 10:00:00,cash", *GOOD[1:]])
    result = run(path, "--skip-bad")
    assert result.exit_code == 0, result.output
    assert f"{path}:3: no member for 137****0000" in result.output
    assert "4 orders recorded, 47 points awarded; 0 already recorded; 1 bad rows skipped" in result.output
    assert [order for order, _ in recorded(db)] == ["B-1", "B-2", "B-3", "B-4"]


def test_running_a_file_twice_records_nothing_new(run, csv_file, db, members):
    """Issue #3: each order is paid once, however often the file is imported."""
    path = csv_file(GOOD)
    run(path)
    entries = ledger_size(db)
    again = run(path)
    assert again.exit_code == 0
    assert "0 orders recorded, 0 points awarded; 4 already recorded; 0 bad rows skipped" in again.output
    assert ledger_size(db) == entries
    assert balances(db, *members) == [(24, 260), (23, 235)]


def test_an_interrupted_import_is_finished_by_running_it_again(run, csv_file, db, members):
    """Resumable: after the first half went in, the whole file records only the rest."""
    run(csv_file(GOOD[:2], name="first-half.csv"))
    result = run(csv_file(GOOD))
    assert result.exit_code == 0
    assert "2 orders recorded, 23 points awarded; 2 already recorded; 0 bad rows skipped" in result.output
    assert balances(db, *members) == [(24, 260), (23, 235)]


def test_an_order_the_api_recorded_identically_counts_as_already_recorded(app, run, csv_file, db, members):
    """The booking system reported B-1 live and exports it again: it is not paid twice."""
    record_b1(app, members[0])
    result = run(csv_file(GOOD))
    assert result.exit_code == 0, result.output
    assert "3 orders recorded, 35 points awarded; 1 already recorded; 0 bad rows skipped" in result.output
    assert recorded(db)[0] == ("B-1", "booking")
    assert balances(db, *members) == [(24, 260), (23, 235)]


def test_an_order_changed_by_the_api_during_the_import_is_reported_not_counted(
        app, run, csv_file, db, members, monkeypatch):
    """The API records B-1 differently between the check and the import: that row is reported
    by line and the summary counts only what was recorded."""
    checked = import_purchases.check

    def check_then_api_records_b1(*args):
        found = checked(*args)
        record_b1(app, members[0], amount_fen=9900)
        return found
    monkeypatch.setattr(import_purchases, "check", check_then_api_records_b1)
    path = csv_file(GOOD)
    result = run(path, "--skip-bad")
    assert f"{path}:2: order B-1 was already recorded with other details" in result.output
    assert "3 orders recorded, 35 points awarded; 0 already recorded; 1 bad rows skipped" in result.output
    assert recorded(db) == [("B-1", "booking"), ("B-2", "import"), ("B-3", "import"), ("B-4", "import")]


def test_an_openid_column_may_replace_the_phone(app, run, csv_file, db, account, members, clock):
    """Orders may name the member by the openid of a fan who is that member."""
    db.add(Fan(account_id=account.id, openid="o-alice", following=True, followed_at=clock.now(),
               member_id=members[0].id))
    db.commit()
    path = csv_file(["B-1,o-alice,128.50,2026-11-20 10:00:00,cash", "B-2,o-nobody,1.00,2026-11-20 10:00:00,cash"],
                    header="order_id,openid,amount,paid_at,payment_method")
    result = run(path)
    assert f"{path}:3: no member for o-nobody" in result.output
    assert run(path, "--skip-bad").exit_code == 0
    assert balances(db, members[0]) == [(12, 128)]
