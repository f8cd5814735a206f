"""`stores import`, `staff import` and `members import` (issue #4, Build 1): the organisation from
CSV files. Each file is checked whole first, every bad row named by its line, nothing written unless
it is valid (or --skip-bad); running a file again changes nothing."""
import pytest
from sqlalchemy import select

from bot import points
from bot.org import legacy as imports
from bot.points.levels import RECALCULATION, settle_level
from bot.points.policy import load
from bot.points.rules_file import parse
from models import Company, Fan, LedgerEntry, Member, Staff, Store
from models.points import GROWTH, POINTS
from models.tag import MEMBER_ROLE, STAFF_ROLE

ANN, BEN, CAT = "13800000001", "13800000002", "13800000003"
STORES = ("code,name,company,company_name", ["SH01,上海一店,east,华东公司", "SH02,上海二店,east,", "BJ01,北京店,north,"])
ROSTER = ("phone,name,store,roles,capacity,default_agent,active",
          [f"{ANN},安,SH01,guide;agent,3,是,", f"+86 {BEN},本,SH01,manager|guide,,,",
           f"{CAT},凯,BJ01,agent,,no,1"])
LEGACY = ("phone,name,birthday,points,level",
          [f"{ANN},安,1990-05-17,1200,silver", f"{BEN},本,,0,铜牌会员", f"{CAT},,2000-02-29,35,"])
RULES = """
levels:
  tiers:
    - {code: registered, name: 注册会员, growth: 0}
    - {code: bronze, name: 铜牌会员, growth: 100}
    - {code: silver, name: 银牌会员, growth: 4000}
  downgrade_window_months: 12
rules:
  - {id: follow, trigger: follow, points: 10}
"""
TAG_JOB = "workers.tags.sync_fan_tags"


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


@pytest.fixture
def csv_file(tmp_path):
    def write(table: tuple[str, list[str]], name: str = "file.csv", encoding: str = "utf-8") -> str:
        header, rows = table
        path = tmp_path / name
        path.write_bytes("\n".join([header, *rows, ""]).encode(encoding))
        return str(path)
    return write


@pytest.fixture
def stores(cli, csv_file):
    assert cli("stores", "import", csv_file(STORES, "stores.csv")).exit_code == 0


@pytest.fixture
def policy(app):
    with points.transaction(app) as book:
        load(book.db, parse(RULES))


def fresh(db):
    db.rollback()
    db.expire_all()
    return db


def store_rows(db) -> list[tuple]:
    return fresh(db).execute(select(Store.code, Store.name, Company.code, Company.name)
                             .join(Company, Store.company_id == Company.id).order_by(Store.code)).all()


def roster(db) -> list[tuple]:
    return [(s.phone, s.name, s.roles, s.capacity, s.default_agent, s.active)
            for s in fresh(db).scalars(select(Staff).order_by(Staff.phone))]


def members(db) -> list[tuple]:
    return [(m.phone, m.name, str(m.birthday), m.points, m.growth, m.level, m.imported)
            for m in fresh(db).scalars(select(Member).order_by(Member.phone))]


def plus(table: tuple[str, list[str]], *rows: str, header: str | None = None) -> tuple[str, list[str]]:
    return header or table[0], [*table[1], *rows]


def linked_staff(db, account, phone: str, openid: str) -> Fan:
    """A roster entry bound by a fan (as the binding conversation leaves it)."""
    member = Member(phone=phone, level="registered")
    db.add(member)
    db.flush()
    db.execute(Staff.__table__.update().where(Staff.phone == phone).values(member_id=member.id))
    fan = Fan(account_id=account.id, openid=openid, following=True, member_id=member.id, role_tag=STAFF_ROLE)
    db.add(fan)
    db.commit()
    return fan


# --- stores -----------------------------------------------------------------------------------

def test_stores_are_imported_with_their_companies_and_listed(cli, csv_file, db):
    """Stores upsert by code; a new company is created, named by company_name or else its code."""
    result = cli("stores", "import", csv_file(STORES))
    assert result.exit_code == 0, result.output
    assert "importing 3 stores" in result.output
    assert "stores: 3 added, 0 updated, 0 unchanged; companies: 2 added, 0 renamed" in result.output
    assert store_rows(db) == [("BJ01", "北京店", "north", "north"), ("SH01", "上海一店", "east", "华东公司"),
                              ("SH02", "上海二店", "east", "华东公司")]
    listing = cli("stores", "list").output
    assert "SH01" in listing and "company east (华东公司), 0 active staff" in listing


def test_stores_imported_again_are_updated_by_code(cli, csv_file, db):
    """The same file again changes nothing; a renamed store or company is updated, not added."""
    cli("stores", "import", csv_file(STORES))
    assert "stores: 0 added, 0 updated, 3 unchanged" in cli("stores", "import", csv_file(STORES)).output
    changed = ("code,name,company,company_name", ["SH02,上海二店（新）,north,北方公司"])
    result = cli("stores", "import", csv_file(changed))
    assert "stores: 0 added, 1 updated, 0 unchanged; companies: 0 added, 1 renamed" in result.output
    assert store_rows(db)[2] == ("SH02", "上海二店（新）", "north", "北方公司")


@pytest.mark.parametrize("row, message", [
    ("SH 09,店,east,", "store code 'SH 09' is empty, longer than 32 characters or has spaces"),
    ("SH09,,east,", "name is empty"),
    ("SH09,店,,", "company code '' is empty"),
    ("SH01,店,east,", "store SH01 is also on line 2"),
    ("SH09,店,east,东部", "company east is named '华东公司' on line 2"),
    ("SH09,店,east,,extra", "more fields than columns"),
])
def test_a_bad_store_row_is_reported_by_line_and_nothing_is_written(cli, csv_file, db, row, message):
    """Issue #4: every bad row is reported with its line number; nothing is written."""
    path = csv_file((STORES[0], [STORES[1][0], row, *STORES[1][1:]]))
    result = cli("stores", "import", path)
    assert result.exit_code != 0
    assert f"{path}:3: {message}" in result.output, result.output
    assert "1 bad rows; nothing imported" in result.output
    assert store_rows(db) == []


def test_excel_empty_trailing_cells_are_ignored_but_values_outside_the_columns_are_not(cli, csv_file, db):
    """Excel writes empty cells past the last column (and unnamed columns): ignored while empty."""
    path = csv_file(("code,name,company,company_name,,", ["SH01,一店,east,,,", "SH02,二店,east,,,x", "SH03,三店,east"]))
    result = cli("stores", "import", path, "--skip-bad")
    assert f"{path}:3: more fields than columns" in result.output
    assert "stores: 2 added" in result.output and [r[0] for r in store_rows(db)] == ["SH01", "SH03"]


# --- the staff roster ---------------------------------------------------------------------------

def test_a_roster_is_imported_and_listed_with_phones_masked(cli, csv_file, db, stores):
    """Roles take any separator; empty cells take the defaults; an agent without capacity is a warning."""
    path = csv_file(ROSTER)
    result = cli("staff", "import", path)
    assert result.exit_code == 0, result.output
    assert f"{path}:4: warning: agent 138****0003 has capacity 0" in result.output
    assert "staff: 3 added, 0 updated, 0 deactivated, 0 reactivated, 0 unchanged" in result.output
    assert roster(db) == [(ANN, "安", "guide,agent", 3, True, True), (BEN, "本", "guide,manager", 0, False, True),
                          (CAT, "凯", "agent", 0, False, True)]
    listing = cli("staff", "list", "--store", "SH01").output
    assert "138****0001" in listing and "138****0002" in listing and "138****0003" not in listing
    assert ANN not in listing and BEN not in listing
    assert "no store XX" in cli("staff", "list", "--store", "XX").output
    assert "2 active staff" in cli("stores", "list").output


@pytest.mark.parametrize("row, message", [
    ("1380000,丁,SH01,guide", "phone ****"),
    ("12800000009,丁,SH01,guide", "phone 128****0009 is not a mainland mobile number"),
    ("13800000009,,SH01,guide", "name is empty"),
    ("13800000009,丁,XX01,guide", "no store 'XX01' (import the stores first"),
    ("13800000009,丁,SH01,guide;boss", "unknown roles boss (roles are guide, agent, manager)"),
    ("13800000009,丁,SH01,agent,-1", "capacity '-1' is not a whole number from 0"),
    ("13800000009,丁,SH01,agent,two", "capacity 'two' is not a whole number from 0"),
    ("13800000009,丁,SH01,agent,1,maybe", "default_agent 'maybe' is not true/false"),
    ("13800000009,丁,SH01,agent,1,1,gone", "active 'gone' is not true/false"),
    (f"{ANN},丁,SH01,guide", "phone 138****0001 is also on line 2"),
    ("13800000009,丁,SH01,guide,1,1,1,x", "more fields than columns"),
])
def test_a_bad_roster_row_is_reported_by_line_and_nothing_is_written(cli, csv_file, db, stores, row, message):
    """Issue #4: every bad row is reported with its line number; nothing is written."""
    path = csv_file((ROSTER[0], [ROSTER[1][0], row, *ROSTER[1][1:]]))
    result = cli("staff", "import", path)
    assert result.exit_code != 0
    assert f"{path}:3: {message}" in result.output, result.output
    assert "1 bad rows; nothing imported" in result.output
    assert roster(db) == []


def test_a_roster_row_with_several_problems_reports_them_all(cli, csv_file, db, stores):
    """Every problem of the row in one run, not the first one only."""
    path = csv_file(plus(ROSTER, "1380000,,XX01,boss,two,maybe"))
    result = cli("staff", "import", path)
    assert result.exit_code != 0
    assert (f"{path}:5: phone **** is not a mainland mobile number; name is empty or longer than 64 "
            "characters; no store 'XX01' (import the stores first: stores import); unknown roles boss "
            "(roles are guide, agent, manager); capacity 'two' is not a whole number from 0 to 10000; "
            "default_agent 'maybe' is not true/false (1/0, yes/no, 是/否)") in result.output, result.output
    assert "1 bad rows; nothing imported" in result.output and roster(db) == []


def test_skip_bad_imports_the_good_roster_rows(cli, csv_file, db, stores):
    """--skip-bad reports the bad rows and imports the others."""
    path = csv_file(plus(ROSTER, "13800000009,丁,XX01,guide", "oops,戊,SH01,"))
    result = cli("staff", "import", path, "--skip-bad")
    assert result.exit_code == 0, result.output
    assert f"{path}:5: no store 'XX01'" in result.output and f"{path}:6: phone ****" in result.output
    assert "staff: 3 added" in result.output and "2 bad rows skipped" in result.output
    assert [r[0] for r in roster(db)] == [ANN, BEN, CAT]


def test_a_roster_imported_again_changes_nothing(cli, csv_file, db, stores, jobs):
    """Upsert by phone: the same roster twice leaves the same rows and queues nothing."""
    cli("staff", "import", csv_file(ROSTER))
    before = roster(db)
    result = cli("staff", "import", csv_file(ROSTER))
    assert "staff: 0 added, 0 updated, 0 deactivated, 0 reactivated, 3 unchanged" in result.output
    assert roster(db) == before and jobs.queued() == []


def test_prune_deactivates_missing_staff_and_their_fans_become_members(cli, csv_file, db, stores, account, jobs):
    """Issue #4 Build 5: deactivated staff lose the 员工 tag at once (their fans' role becomes 会员)."""
    cli("staff", "import", csv_file(ROSTER))
    fan = linked_staff(db, account, BEN, "o-ben")
    result = cli("staff", "import", csv_file((ROSTER[0], [ROSTER[1][0]]), "short.csv"), "--prune")
    assert result.exit_code == 0, result.output
    assert "staff: 0 added, 0 updated, 2 deactivated, 0 reactivated, 1 unchanged" in result.output
    assert "menu role changed for 1 fans" in result.output
    assert [(r[0], r[5]) for r in roster(db)] == [(ANN, True), (BEN, False), (CAT, False)]
    assert fresh(db).get(Fan, fan.id).role_tag == MEMBER_ROLE
    assert jobs.queued() == [TAG_JOB]


def test_without_prune_missing_staff_stay_active(cli, csv_file, db, stores):
    """Only --prune deactivates: a partial roster updates the staff it lists."""
    cli("staff", "import", csv_file(ROSTER))
    cli("staff", "import", csv_file((ROSTER[0], [ROSTER[1][0]]), "short.csv"))
    assert [r[5] for r in roster(db)] == [True, True, True]


def test_a_bad_row_with_skip_bad_never_prunes_its_staff_member(cli, csv_file, db, stores):
    """A typo in Ben's store must not take him off the roster: staff on bad rows are kept."""
    cli("staff", "import", csv_file(ROSTER))
    path = csv_file((ROSTER[0], [ROSTER[1][0], f"{BEN},本,XX01,guide"]), "typo.csv")
    result = cli("staff", "import", path, "--prune", "--skip-bad")
    assert "1 deactivated" in result.output and "1 staff on bad rows were not pruned" in result.output
    assert [(r[0], r[5]) for r in roster(db)] == [(ANN, True), (BEN, True), (CAT, False)]


def test_prune_with_a_file_that_lists_nobody_is_refused(cli, csv_file, db, stores):
    """An empty roster with --prune would deactivate everyone: refused, nothing changed."""
    cli("staff", "import", csv_file(ROSTER))
    result = cli("staff", "import", csv_file((ROSTER[0], []), "empty.csv"), "--prune")
    assert result.exit_code != 0 and "lists nobody" in result.output
    assert [r[5] for r in roster(db)] == [True, True, True]


def test_active_false_demotes_a_linked_staff_member_and_reactivation_restores(cli, csv_file, db, stores,
                                                                             account, jobs):
    """active=否 in the file is a deactivation (role 会员); listed active again, the role is 员工 again."""
    cli("staff", "import", csv_file(ROSTER))
    fan = linked_staff(db, account, ANN, "o-ann")
    off = csv_file((ROSTER[0], [f"{ANN},安,SH01,guide;agent,3,是,否"]), "off.csv")
    assert "1 deactivated" in cli("staff", "import", off).output
    assert fresh(db).get(Fan, fan.id).role_tag == MEMBER_ROLE and jobs.queued() == [TAG_JOB]
    result = cli("staff", "import", csv_file(ROSTER))
    assert "staff: 0 added, 0 updated, 0 deactivated, 1 reactivated, 2 unchanged" in result.output
    assert fresh(db).get(Fan, fan.id).role_tag == STAFF_ROLE and jobs.queued() == [TAG_JOB, TAG_JOB]


# --- members from the old CRM --------------------------------------------------------------------

def test_legacy_members_are_imported_with_their_points_and_level(app, cli, csv_file, db, policy):
    """Issue #4: points become an opening ledger entry; the level (code or name, empty = first)
    is kept by an opening growth entry, so the nightly recalculation leaves it."""
    result = cli("members", "import", csv_file(LEGACY))
    assert result.exit_code == 0, result.output
    assert "importing 3 members" in result.output
    assert "members: 3 imported, 1235 points credited; 0 already members; 0 bad rows skipped" in result.output
    assert members(db) == [(ANN, "安", "1990-05-17", 1200, 4000, "silver", True),
                           (BEN, "本", "None", 0, 100, "bronze", True),
                           (CAT, None, "2000-02-29", 35, 0, "registered", True)]
    entries = fresh(db).execute(select(LedgerEntry.key, LedgerEntry.ledger, LedgerEntry.delta, LedgerEntry.reason,
                                       LedgerEntry.actor).order_by(LedgerEntry.id)).all()
    assert entries == [(f"adjust:legacy:{ANN}", POINTS, 1200, "原会员系统积分", "import"),
                       (f"adjust:legacy-growth:{ANN}", GROWTH, 4000, "原会员等级", None),
                       (f"adjust:legacy-growth:{BEN}", GROWTH, 100, "原会员等级", None),
                       (f"adjust:legacy:{CAT}", POINTS, 35, "原会员系统积分", "import")]
    with points.transaction(app) as book:
        for member in book.db.scalars(select(Member)):
            settle_level(book, book.lock(member.id), RECALCULATION)
    assert [m[5] for m in members(db)] == ["silver", "bronze", "registered"]


@pytest.mark.parametrize("row, message", [
    ("13800000009,丁,1990-02-30,0,", "birthday '1990-02-30' is not a past date like 1990-05-17"),
    ("13800000009,丁,1990/05/17,0,", "birthday '1990/05/17' is not a past date"),
    ("13800000009,丁,2030-01-01,0,", "birthday '2030-01-01' is not a past date"),
    ("1380000000,丁,,0,", "phone 138****0000 is not a mainland mobile number"),
    ("13800000009,丁,,-5,", "points '-5' is not a whole number from 0"),
    ("13800000009,丁,,12.5,", "points '12.5' is not a whole number from 0"),
    ("13800000009,丁,,10,gold", "level 'gold' is not a level of the points policy (levels: registered (注册会员)"),
    (f"{ANN},丁,,10,", "phone 138****0001 is also on line 2"),
    ("13800000009,丁,,10,,x", "more fields than columns"),
])
def test_a_bad_legacy_row_is_reported_by_line_and_nothing_is_written(cli, csv_file, db, policy, row, message):
    """Issue #4: every bad row is reported with its line number; nothing is written."""
    path = csv_file((LEGACY[0], [LEGACY[1][0], row, *LEGACY[1][1:]]))
    result = cli("members", "import", path)
    assert result.exit_code != 0
    assert f"{path}:3: {message}" in result.output, result.output
    assert "1 bad rows; nothing imported" in result.output
    assert members(db) == [] and fresh(db).scalars(select(LedgerEntry)).all() == []


def test_skip_bad_imports_the_good_legacy_rows(cli, csv_file, db, policy):
    """--skip-bad reports the bad rows and imports the others."""
    path = csv_file(plus(LEGACY, "13800000009,丁,,ten,"))
    result = cli("members", "import", path, "--skip-bad")
    assert result.exit_code == 0, result.output
    assert f"{path}:5: points 'ten'" in result.output and "3 imported" in result.output
    assert len(members(db)) == 3


def test_a_legacy_file_imported_again_credits_nobody_twice(cli, csv_file, db, policy):
    """Idempotent: a phone that is already a member is skipped with a note, never credited again."""
    db.add(Member(phone=CAT, level="registered", points=0))
    db.commit()
    first = cli("members", "import", csv_file(LEGACY))
    assert ":4: 138****0003 is already a member; skipped (nothing credited)" in first.output
    assert "members: 2 imported, 1200 points credited; 1 already members" in first.output
    before = members(db), len(fresh(db).scalars(select(LedgerEntry)).all())
    again = cli("members", "import", csv_file(LEGACY))
    assert again.exit_code == 0, again.output
    assert "members: 0 imported, 0 points credited; 3 already members" in again.output
    assert (members(db), len(fresh(db).scalars(select(LedgerEntry)).all())) == before
    assert CAT not in again.output and ANN not in again.output


def test_changes_between_the_check_and_the_write_are_reported_per_row(app, cli, csv_file, db, policy,
                                                                      monkeypatch):
    """Ann binds in the chat and the levels lose silver while the file is checked: Ann is skipped
    (not credited twice), Ann's level is reported by line, the other rows go in."""
    checked = imports.check_members

    def check_then_the_world_moves(*args):
        found = checked(*args)
        db.add(Member(phone=BEN, level="registered"))
        db.commit()
        with points.transaction(app) as book:
            load(book.db, parse(RULES.replace("    - {code: silver, name: 银牌会员, growth: 4000}\n", "")))
        return found
    monkeypatch.setattr(imports, "check_members", check_then_the_world_moves)
    path = csv_file(LEGACY)
    result = cli("members", "import", path)
    assert result.exit_code != 0
    assert f"{path}:2: level silver is no longer in the points policy" in result.output
    assert f"{path}:3: 138****0002 became a member meanwhile; skipped" in result.output
    assert "members: 1 imported, 35 points credited; 1 already members; 1 bad rows skipped" in result.output
    assert [m[:5] for m in members(db)] == [(BEN, None, "None", 0, 0), (CAT, None, "2000-02-29", 35, 0)]


# --- files, for all three commands --------------------------------------------------------------

COMMANDS = [(("stores", "import"), STORES, "code,name", "company"),
            (("staff", "import"), ROSTER, "phone,name,store", "roles"),
            (("members", "import"), LEGACY, "phone,name,birthday,points", "level")]


@pytest.mark.parametrize("command, table, short_header, missing", COMMANDS)
def test_a_file_that_is_not_utf8_or_lacks_columns_is_refused(cli, csv_file, db, stores, policy,
                                                              command, table, short_header, missing):
    """A GBK file (Excel's default on Chinese Windows) and a header without a column fail whole."""
    before = store_rows(db), roster(db), members(db)
    gbk = cli(*command, csv_file(table, "gbk.csv", encoding="gbk"))
    assert gbk.exit_code != 0 and "is not UTF-8 text (save the CSV as UTF-8)" in gbk.output
    path = csv_file((short_header, []), "short.csv")
    result = cli(*command, path)
    assert result.exit_code != 0 and f"{path}:1: missing columns {missing} (expected" in result.output
    path = csv_file((table[0] + ",notes", []), "unknown.csv")
    assert f"{path}:1: unknown columns notes" in cli(*command, path).output
    assert (store_rows(db), roster(db), members(db)) == before


@pytest.mark.parametrize("command, table, short_header, missing", COMMANDS)
def test_an_excel_bom_is_accepted(cli, csv_file, db, stores, policy, command, table, short_header, missing):
    """Excel's "CSV UTF-8" starts with a BOM: the first column is still found."""
    result = cli(*command, csv_file(table, "bom.csv", encoding="utf-8-sig"))
    assert result.exit_code == 0, result.output
    assert "0 bad rows skipped" in result.output


def test_lists_line_up_by_display_width_and_cut_no_name(cli, csv_file, db):
    """A Chinese character takes two terminal columns: the column after a store or staff name
    starts at the same display column on every line, and a long name is shown whole."""
    from bot.commands.columns import width
    long_name = "杭州西湖区文三路旗舰体验中心门店（新店）"                 # wider than any fixed column
    cli("stores", "import", csv_file(("code,name,company", ["S1,西湖门店,east", f"LONG01,{long_name},east",
                                                             "S2,Lake Store,east"]), "stores.csv"))
    lines = cli("stores", "list").output.splitlines()
    assert any(long_name in line for line in lines)
    starts = {width(line[:line.index("company")]) for line in lines}
    assert len(starts) == 1, lines
    cli("staff", "import", csv_file(("phone,name,store,roles", ["13800000001,欧阳娜娜,S1,guide",
                                                                 "13800000002,Li,LONG01,agent"]), "staff.csv"))
    rows = cli("staff", "list").output.splitlines()
    assert len({width(line[:line.index("capacity")]) for line in rows}) == 1, rows
