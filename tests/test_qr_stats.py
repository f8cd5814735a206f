"""`flask --app wsgi qr stats` (issue #5, Build 4): per code, per staff member, per store, over
China-date periods, as a table or csv, with a totals row; bad dates, stores and staff refused.

Seven people act through the webhook. Store S1 (西湖门店) has 王导's code W, 李导's code L and the
store's own 地推 code; store S2 (灵隐门店) has 赵导's code Z. On 2026-11-23 (China):
  p1, p2 follow through W; p3 through L; p4 through the 地推 code; p5 through Z; p6 plainly;
  p7 through a poster of another system ("poster-7"); at 23:59:59 p2 unfollows.
On 2026-11-24 at 00:00:00 p1 (following) scans L; at 00:05 p3 binds a phone (a member of L's).
"""
import pytest
from sqlalchemy import select

from models import Store
from tests.binding_support import bind
from tests.conftest import later
from tests.test_qr_scans import counts, make_code, make_staff, make_store, stats_rows

DAY_ONE, DAY_TWO = "2026-11-23", "2026-11-24"


@pytest.fixture
def activity(app, db, account, phone, clock, jobs):
    s1, s2 = make_store(db, "S1", "西湖门店"), make_store(db, "S2", "灵隐门店")
    wang, li = make_staff(db, s1, "13900000001", "王导"), make_staff(db, s1, "13900000002", "李导")
    zhao = make_staff(db, s2, "13900000003", "赵导")
    codes = {"W": make_code(app, db, account, clock, store=s1, staff=wang),
             "L": make_code(app, db, account, clock, store=s1, staff=li),
             "S": make_code(app, db, account, clock, store=s1, channel="地推"),
             "Z": make_code(app, db, account, clock, store=s2, staff=zhao)}
    people = {name: phone(name) for name in ("p1", "p2", "p3", "p4", "p5", "p6", "p7")}
    for name, scene in (("p1", codes["W"].scene), ("p2", codes["W"].scene), ("p3", codes["L"].scene),
                        ("p4", codes["S"].scene), ("p5", codes["Z"].scene), ("p6", None), ("p7", "poster-7")):
        people[name].follow(scene)
        later(clock, minutes=1)
    clock.advance(hours=5, minutes=52, seconds=59)     # 2026-11-23 23:59:59 China time
    assert clock.now().isoformat() == "2026-11-23T15:59:59+00:00"
    people["p2"].unfollow()
    later(clock)                                        # 2026-11-24 00:00:00 China time
    people["p1"].scan(codes["L"].scene)
    later(clock, minutes=5)
    bind(people["p3"], app, jobs, "13800138003")
    return {name: code.scene for name, code in codes.items()}


def test_per_code_over_all_time(app, activity):
    rows = stats_rows(app)
    assert set(rows) == {*activity.values(), "-", "total"}
    #                                        scans unique follows refollows unfollows net members
    assert counts(rows[activity["W"]]) == (2, 2, 2, 0, 1, 1, 0)
    assert counts(rows[activity["L"]]) == (2, 2, 1, 0, 0, 1, 1)
    assert counts(rows[activity["S"]]) == (1, 1, 1, 0, 0, 1, 0)
    assert counts(rows[activity["Z"]]) == (1, 1, 1, 0, 0, 1, 0)
    assert counts(rows["-"]) == (1, 1, 2, 0, 0, 2, 0)          # p6 plainly, p7 by a scene not ours
    # p1 scanned two codes: one unique scanner in the totals, not two.
    assert counts(rows["total"]) == (7, 6, 7, 0, 1, 6, 1)


def test_per_staff_and_per_store(app, activity):
    by_staff = stats_rows(app, "--by", "staff")
    assert {k: (v["label"], counts(v)) for k, v in by_staff.items()} == {
        "139****0001": ("王导", (2, 2, 2, 0, 1, 1, 0)),
        "139****0002": ("李导", (2, 2, 1, 0, 0, 1, 1)),
        "139****0003": ("赵导", (1, 1, 1, 0, 0, 1, 0)),
        "-": ("(no staff member: plain follows, other scenes, codes of no one)", (2, 2, 3, 0, 0, 3, 0)),
        "total": ("", (7, 6, 7, 0, 1, 6, 1)),
    }
    by_store = stats_rows(app, "--by", "store")
    assert {k: (v["label"], counts(v)) for k, v in by_store.items()} == {
        "S1": ("西湖门店", (5, 4, 4, 0, 1, 3, 1)),
        "S2": ("灵隐门店", (1, 1, 1, 0, 0, 1, 0)),
        "-": ("(no store: plain follows, other scenes, codes of no store)", (1, 1, 2, 0, 0, 2, 0)),
        "total": ("", (7, 6, 7, 0, 1, 6, 1)),
    }


def test_one_store_or_one_staff_member_only(app, activity):
    store = stats_rows(app, "--store", "S1")
    assert set(store) == {activity["W"], activity["L"], activity["S"], "total"}
    assert counts(store["total"]) == (5, 4, 4, 0, 1, 3, 1)
    staff = stats_rows(app, "--staff", "139 0000 0002", "--by", "store")
    assert {k: counts(v) for k, v in staff.items()} == {"S1": (2, 2, 1, 0, 0, 1, 1), "total": (2, 2, 1, 0, 0, 1, 1)}


def test_periods_are_china_dates_both_ends_included(app, activity):
    """23:59:59 belongs to the 23rd, 00:00:00 to the 24th (Asia/Shanghai)."""
    first = stats_rows(app, "--until", DAY_ONE)
    assert counts(first[activity["W"]]) == (2, 2, 2, 0, 1, 1, 0)
    assert counts(first[activity["L"]]) == (1, 1, 1, 0, 0, 1, 0)
    assert counts(first["total"]) == (6, 6, 7, 0, 1, 6, 0)
    second = stats_rows(app, "--since", DAY_TWO, "--until", DAY_TWO)
    assert {k: counts(v) for k, v in second.items()} == {activity["L"]: (1, 1, 0, 0, 0, 0, 1),
                                                          "total": (1, 1, 0, 0, 0, 0, 1)}
    empty = stats_rows(app, "--since", "2026-11-25", "--until", "2026-11-30")
    assert {k: counts(v) for k, v in empty.items()} == {"total": (0, 0, 0, 0, 0, 0, 0)}


def test_the_table_is_aligned_and_ends_with_the_totals(app, activity):
    result = app.test_cli_runner().invoke(args=["qr", "stats", "--account", "hq", "--by", "store"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "hq: beginning to 2026-11-24 (China dates), by store"
    assert lines[1].split() == ["store", "label", "scans", "unique", "follows", "refollows", "unfollows", "net",
                                "members"]
    assert lines[3].split() == ["S1", "西湖门店", "5", "4", "4", "0", "1", "3", "1"]
    assert lines[-1].split() == ["total", "7", "6", "7", "0", "1", "6", "1"]
    # Chinese labels take two columns each: every number still ends in the same column.
    from bot.qr.stats_cli import width
    assert len({width(line) for line in lines[1:] if not line.startswith("-")}) == 1


def test_csv_has_a_header_and_a_totals_row(app, activity):
    result = app.test_cli_runner().invoke(args=["qr", "stats", "--account", "hq", "--by", "store", "--format",
                                                "csv", "--store", "S2"])
    assert result.output == ("store,label,scans,unique_scanners,new_follows,refollows,unfollows,net_follows,members\n"
                             "S2,灵隐门店,1,1,1,0,0,1,0\n"
                             "total,,1,1,1,0,0,1,0\n")


@pytest.mark.parametrize("args, error", [
    (["--since", "2026-13-01"], "--since '2026-13-01' is not a date like 2026-11-23"),
    (["--until", "yesterday"], "--until 'yesterday' is not a date like 2026-11-23"),
    (["--since", "2026-11-24", "--until", "2026-11-23"], "--since 2026-11-24 is after --until 2026-11-23"),
    (["--store", "NOPE"], "no store 'NOPE'"),
    (["--staff", "12345"], "--staff '12345' is not a mainland mobile number"),
    (["--staff", "13000000000"], "no staff with phone 130****0000"),
    (["--account", "nope"], "no account 'nope'"),
])
def test_bad_input_is_refused_clearly(app, db, account, args, error):
    make_store(db, "S1", "西湖门店")
    full = ["qr", "stats", *(args if "--account" in args else ["--account", "hq", *args])]
    result = app.test_cli_runner().invoke(args=full)
    assert result.exit_code == 1 and f"Error: {error}" in result.output, result.output
    assert db.scalar(select(Store.code)) == "S1"
