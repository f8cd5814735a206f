"""The rules file and the operators' `points` / `integrations` commands (issue #3, Build 2 and 8):
validated as a whole with every error on its line, versioned on change, audited adjustments."""
import hashlib
import hmac
import re
import textwrap
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import points
from bot.points.engine import fire
from bot.points.policy import rules_for
from models import Integration, LedgerEntry, Member, PointsPolicy, PointsRule

EXAMPLE = Path(__file__).resolve().parent.parent / "bot" / "points" / "rules.example.yaml"
PHONE = "13800000000"
MASKED = "138****0000"

# Lines 1-7; the rules of each case start on line 8.
HEAD = """\
levels:
  tiers:
    - {code: registered, name: 注册会员, growth: 0}
    - {code: silver, name: 银牌会员, growth: 100}
groups:
  day-group: {window: day}
rules:
"""


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args):
        return runner.invoke(args=list(args))
    return run


@pytest.fixture
def rules_file(tmp_path):
    def write(text: str, name: str = "rules.yaml") -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)
    return write


@pytest.fixture
def member(db):
    row = Member(phone=PHONE, level="registered", birthday=date(1990, 11, 23))
    db.add(row)
    db.commit()
    return row


def fresh(db) -> None:
    """A fresh snapshot: see what the command committed."""
    db.rollback()
    db.expire_all()


def balance(db, member: Member) -> int:
    fresh(db)
    return db.get(Member, member.id).points


def rows(db) -> list[tuple[str, int, bool]]:
    fresh(db)
    return [(r.code, r.version, r.in_force) for r in db.scalars(select(PointsRule).order_by(PointsRule.id))]


def entries(db) -> list[LedgerEntry]:
    fresh(db)
    return list(db.scalars(select(LedgerEntry).order_by(LedgerEntry.id)))


def example(drop: str | None = None, sign_in_points: int = 2) -> str:
    """The example file, optionally without one rule, or with another sign-in award."""
    text = EXAMPLE.read_text(encoding="utf-8")
    if drop:
        blocks = re.split(r"(?m)^(?=  - id: )", text)
        text = "".join(block for block in blocks if not block.startswith(f"  - id: {drop}\n"))
    assert text.count("    points: 2\n") == 1      # the sign-in rule's
    return text.replace("    points: 2\n", f"    points: {sign_in_points}\n")


@pytest.mark.parametrize("rules, line, message", [
    pytest.param("- {id: a, trigger: tweet, points: 1}", 8, "trigger must be one of", id="bad trigger"),
    pytest.param("- id: a\n  trigger: sign_in\n  points: -5", 10, "points must be a whole number ≥ 0",
                 id="negative points"),
    pytest.param("- id: a\n  trigger: sign_in\n  points: {per: 10, award: 1}", 10,
                 "per-amount awards need an amount", id="per-amount without an amount"),
    pytest.param("- id: a\n  trigger: sign_in\n  points: 1\n  group: nope", 11,
                 "group 'nope' is not defined under groups", id="unknown group"),
    pytest.param("- id: a\n  trigger: purchase\n  points: 1\n  multipliers:\n    level: {platinum: 2}", 12,
                 "multipliers.level: no level 'platinum'", id="unknown level"),
    pytest.param("- id: a\n  trigger: sign_in\n  points: 1\n  from: 2026-12-01\n  to: 2026-11-01", 12,
                 "to (2026-11-01) is before from (2026-12-01)", id="from after to"),
    pytest.param("- id: a\n  trigger: sign_in\n  points: 1\n  from: next monday", 11,
                 "from must be a date like 2026-11-01", id="from not a date"),
    pytest.param("- {id: a, trigger: sign_in, points: 1}\n- {id: a, trigger: follow, points: 1}", 9,
                 "rule id 'a' is used twice (first on line 8)", id="duplicate rule id"),
    pytest.param("- id: a\n  trigger: sign_in\n  points: 1\n  points: 2", 11, "duplicate key 'points'",
                 id="duplicate YAML key"),
    pytest.param("- id: a\n  trigger: sign_in\n  points: 1\n  colour: red", 11, "unknown field 'colour'",
                 id="unknown field"),
    pytest.param("- id: a\n  trigger: sign_in\n  points: 1\n  frequency: {count: 2, per: fortnight}", 11,
                 "frequency.per must be one of day, week, month, year", id="bad frequency period"),
    pytest.param("- id: a\n  trigger: sign_in\n  points: 1\n  frequency: twice", 11,
                 "frequency (once, unlimited or {count, per}) must be a mapping", id="bad frequency"),
    pytest.param("- id: a\n\ttrigger: sign_in", 9, "found character '\\t' that cannot start any token",
                 id="YAML tab"),
    pytest.param("- id: a\n  trigger: sign_in\n  points: [1, 2\n- id: b", 11, "expected ',' or ']'",
                 id="YAML unclosed bracket"),
])
def test_each_error_names_its_line(cli, rules_file, db, rules, line, message):
    """Issue #3: the file is validated, every error names its line, and nothing is loaded."""
    path = rules_file(HEAD + textwrap.indent(rules, "  ") + "\n")
    result = cli("points", "load", path)
    assert result.exit_code != 0
    assert f"{path}:{line}: " in result.output and message in result.output, result.output
    assert "nothing changed" in result.output
    assert rows(db) == []


@pytest.mark.parametrize("tiers, line, message", [
    pytest.param("- {code: registered, name: 注册, growth: 10}\n- {code: silver, name: 银牌, growth: 100}", 3,
                 "the first level must start at growth 0", id="not starting at 0"),
    pytest.param("- {code: registered, name: 注册, growth: 0}\n- {code: silver, name: 银牌, growth: 100}\n"
                 "- {code: gold, name: 金牌, growth: 50}", 5, "must need more growth than level", id="not rising"),
])
def test_levels_must_start_at_zero_and_rise(cli, rules_file, tiers, line, message):
    """Issue #3 Build 4: levels by rising growth thresholds; the error points at the tier at fault."""
    path = rules_file("levels:\n  tiers:\n" + textwrap.indent(tiers, "    ")
                      + "\nrules:\n  - {id: a, trigger: sign_in, points: 1}\n")
    result = cli("points", "load", path)
    assert result.exit_code != 0
    assert f"{path}:{line}: " in result.output and message in result.output, result.output


def test_every_error_of_a_file_is_reported_at_once(cli, rules_file):
    """All problems come back in one run, in file order, each with its line."""
    path = rules_file(HEAD + "  - {id: a, trigger: tweet, points: 1}\n"        # 8
                             "  - id: b\n"                                     # 9
                             "    trigger: sign_in\n"                          # 10
                             "    points: -1\n"                                # 11
                             "    growth: 1\n"                                 # 12
                             "    colour: red\n"                               # 13
                             "  - {id: c, trigger: sign_in, points: 1, group: nope}\n")   # 14
    result = cli("points", "load", path)
    assert result.exit_code != 0
    reported = [int(n) for n in re.findall(rf"{re.escape(path)}:(\d+): ", result.output)]
    assert reported == [8, 11, 13, 14], result.output
    assert "(4 errors); nothing changed" in result.output


def test_an_invalid_file_leaves_the_rules_in_force(cli, rules_file, db):
    """Nothing changes unless the whole file is valid: the rules loaded before stay in force."""
    assert cli("points", "load", str(EXAMPLE)).exit_code == 0
    before = rows(db)
    broken = example(sign_in_points=-2)
    result = cli("points", "load", rules_file(broken))
    assert result.exit_code != 0 and "nothing changed" in result.output
    assert rows(db) == before
    assert db.scalar(select(func.count()).select_from(PointsPolicy)) == 1
    assert [r.spec["points"] for r in rules_for(db, "sign_in")] == [2]


def test_check_validates_and_changes_nothing(cli, rules_file, db):
    """`--check` reports on the file and loads nothing, valid or not."""
    result = cli("points", "load", "--check", str(EXAMPLE))
    assert result.exit_code == 0 and "is valid: 9 rules" in result.output
    bad = cli("points", "load", "--check", rules_file(HEAD + "  - {id: a, trigger: tweet, points: 1}\n"))
    assert bad.exit_code != 0 and ":8: " in bad.output
    assert rows(db) == []
    assert db.scalar(select(func.count()).select_from(PointsPolicy)) == 0


def test_loading_the_example_twice_changes_nothing_the_second_time(cli, db):
    """The example file loads; loaded again, every rule is unchanged and no version is made."""
    first = cli("points", "load", str(EXAMPLE))
    assert first.exit_code == 0, first.output
    assert ("added: follow v1, bind v1, birthday v1, purchase v1, winter-purchase-bonus v1, referral v1, "
            "referee v1, survey v1, sign-in v1") in first.output
    assert len(rows(db)) == 9 and all(version == 1 and live for _, version, live in rows(db))
    again = cli("points", "load", str(EXAMPLE))
    assert again.exit_code == 0
    assert "added" not in again.output and "new version" not in again.output and "retired" not in again.output
    assert ("unchanged: follow, bind, birthday, purchase, winter-purchase-bonus, referral, referee, "
            "survey, sign-in") in again.output
    assert "levels, caps, groups, expiry: unchanged" in again.output
    assert len(rows(db)) == 9
    assert db.scalar(select(func.count()).select_from(PointsPolicy)) == 1


def test_an_edited_rule_becomes_version_2_and_past_entries_keep_version_1(cli, rules_file, db, member, app):
    """Issue #3: a changed rule gets a new version, the old row is retired and kept, and the
    entries it paid still name version 1."""
    assert cli("points", "load", str(EXAMPLE)).exit_code == 0
    with points.transaction(app) as book:
        fire(book, member.id, "sign_in", "sign_in", "2026-11-23")
    result = cli("points", "load", rules_file(example(sign_in_points=3)))
    assert result.exit_code == 0
    assert "new version: sign-in v2" in result.output
    assert [r for r in rows(db) if r[0] == "sign-in"] == [("sign-in", 1, False), ("sign-in", 2, True)]
    assert [(r.version, r.spec["points"]) for r in rules_for(db, "sign_in")] == [(2, 3)]
    assert [(e.rule_version, e.delta) for e in entries(db)] == [(1, 2)]


def test_a_rule_left_out_of_the_file_is_retired(cli, rules_file, db):
    """Loading a file makes it the one in force: a rule it no longer has stops paying, its row stays."""
    assert cli("points", "load", str(EXAMPLE)).exit_code == 0
    result = cli("points", "load", rules_file(example(drop="survey")))
    assert result.exit_code == 0 and "retired: survey" in result.output
    assert ("survey", 1, False) in rows(db)
    assert rules_for(db, "survey_complete") == []
    assert "survey" not in cli("points", "rules").output


def test_points_rules_lists_what_is_in_force(cli):
    """`points rules` shows levels, caps, expiry and every rule in force with its version."""
    assert "no rules in force" in cli("points", "rules").output
    cli("points", "load", str(EXAMPLE))
    listing = cli("points", "rules").output
    assert "注册会员≥0, 铜牌会员≥100, 银牌会员≥4000, 金牌会员≥10000" in listing
    assert "caps per member: day 5000, month 50000" in listing
    assert "expiry: end_of_year +1 years, reminder 7 days before" in listing
    bonus = next(line for line in listing.splitlines() if line.startswith("winter-purchase-bonus"))
    assert "v1" in bonus and "1/20元" in bonus and "2026-11-01–2027-02-28" in bonus
    assert "group welcome-day" in next(line for line in listing.splitlines() if line.startswith("bind"))
    assert re.search(r"points 2 .* 1/day always$", next(line for line in listing.splitlines()
                                                         if line.startswith("sign-in")))
    assert "DISABLED" not in listing


def test_a_disabled_rule_is_listed_as_such_and_pays_nothing(cli, rules_file, db, member, app):
    """`enabled: false` keeps a rule on file without paying it."""
    cli("points", "load", rules_file(HEAD + "  - {id: sign-in, trigger: sign_in, points: 2, enabled: false}\n"))
    assert "DISABLED" in next(line for line in cli("points", "rules").output.splitlines()
                              if line.startswith("sign-in"))
    with points.transaction(app) as book:
        assert fire(book, member.id, "sign_in", "sign_in", "2026-11-23") == []
    assert balance(db, member) == 0 and entries(db) == []


def test_adjust_is_audited_and_show_masks_the_phone(cli, db, member):
    """Issue #3 Build 8: an operator's adjustment records who and why; phones stay masked."""
    cli("points", "load", str(EXAMPLE))
    result = cli("points", "adjust", PHONE, "+50", "--reason", "客诉补偿", "--by", "ops-li")
    assert result.exit_code == 0, result.output
    assert f"{MASKED}: +50 (客诉补偿) by ops-li; balance 50" in result.output
    [entry] = entries(db)
    assert (entry.kind, entry.delta, entry.reason, entry.actor) == ("adjust", 50, "客诉补偿", "ops-li")
    shown = cli("points", "show", PHONE).output
    assert f"member {member.id} {MASKED}: 50 points, 0 growth, level 注册会员" in shown
    assert "next expiry: 50 points valid through 2027-12-31" in shown
    assert "+50 客诉补偿  [ops-li]" in shown
    assert PHONE not in result.output + shown


def test_a_deduction_takes_points_off(cli, db, member):
    """`points adjust PHONE -N`, as the issue writes it, deducts."""
    cli("points", "adjust", PHONE, "+50", "--reason", "补偿", "--by", "ops-li")
    result = cli("points", "adjust", PHONE, "-20", "--reason", "误发扣回", "--by", "ops-li")
    assert result.exit_code == 0, result.output
    assert f"{MASKED}: -20 (误发扣回) by ops-li; balance 30" in result.output
    assert [e.delta for e in entries(db)] == [50, -20]


def test_the_same_key_adjusts_once(cli, db, member):
    """`--key` makes an adjustment idempotent: run twice, the balance moves once."""
    for _ in range(2):
        result = cli("points", "adjust", PHONE, "+30", "--reason", "活动补发", "--by", "ops-li", "--key", "t-42")
        assert result.exit_code == 0 and "balance 30" in result.output
    assert [e.delta for e in entries(db)] == [30]
    assert balance(db, member) == 30


def test_deducting_more_than_the_balance_is_refused(cli, db, member):
    """A deduction beyond the balance fails clearly and writes nothing (balances never go negative)."""
    cli("points", "adjust", PHONE, "+10", "--reason", "补偿", "--by", "ops-li")
    # Options first, then "--": the form that reaches the command today (see the test above).
    result = cli("points", "adjust", "--reason", "扣回", "--by", "ops-li", PHONE, "--", "-80")
    assert result.exit_code != 0
    assert "cannot deduct 80: the balance is 10" in result.output
    assert [e.delta for e in entries(db)] == [10]
    assert balance(db, member) == 10


@pytest.mark.parametrize("command", [("show",), ("adjust", "+5", "--reason", "x", "--by", "ops")])
def test_an_unknown_phone_is_a_clear_error(cli, db, member, command):
    """No member with that phone: the command says so (masked) and changes nothing."""
    result = cli("points", command[0], "13999990000", *command[1:])
    assert result.exit_code != 0
    assert "no member with phone 139****0000" in result.output and "13999990000" not in result.output
    assert entries(db) == []


def test_run_daily_prints_what_it_did(cli, db, member):
    """`points run-daily` runs the scheduled jobs now: today is the member's birthday."""
    cli("points", "load", str(EXAMPLE))
    result = cli("points", "run-daily")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["birthdays: 1 members", "matured: 0 members",
                                          "expired: 0 members", "reminded: 0 members",
                                          "levels: 1 members", "stages: 0 members"]
    assert balance(db, member) == 200
    assert cli("points", "run-daily").exit_code == 0
    assert balance(db, member) == 200


def call_api(app, clock, name: str, key: str) -> int:
    """The status of a purchase call signed with `key` (for an unknown member: 404 once signed right)."""
    body, ts = b'{"order_id": "A-1", "phone": "13999990000", "amount": 1, "paid_at": "2026-11-23", ' \
               b'"payment_method": "cash"}', str(int(clock.timestamp()))
    signature = hmac.new(key.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return app.test_client().post("/api/purchases", data=body, headers={
        "X-Integration": name, "X-Timestamp": ts, "X-Signature": signature}).status_code


def test_integrations_add_list_disable(cli, db, app, clock):
    """`integrations add` prints the signing key once; `list` never shows it; `disable` refuses calls."""
    added = cli("integrations", "add", "booking")
    assert added.exit_code == 0
    key = re.search(r"key ([0-9a-f]{64})\b", added.output).group(1)
    fresh(db)
    row = db.scalar(select(Integration).where(Integration.name == "booking"))
    assert (row.secret, row.active) == (key, True)
    listing = cli("integrations", "list").output
    assert re.search(r"booking\s+active", listing) and key not in listing
    assert call_api(app, clock, "booking", key) == 404
    assert cli("integrations", "disable", "booking").exit_code == 0
    assert call_api(app, clock, "booking", key) == 401
    assert re.search(r"booking\s+disabled", cli("integrations", "list").output)
    missing = cli("integrations", "disable", "nobody")
    assert missing.exit_code != 0 and "no integration nobody" in missing.output
    assert cli("integrations", "add", "Bad Name").exit_code != 0


def test_a_renamed_rule_is_refused_without_yes_because_it_would_pay_again(cli, rules_file, db, member, app):
    """A rule dropped while another on its trigger is added: the new id counts its frequency from
    zero, so a member paid by sign-in today would be paid by the new rule too. `points load`
    says so and changes nothing; --yes loads it."""
    assert cli("points", "load", str(EXAMPLE)).exit_code == 0
    dropped = cli("points", "load", rules_file(example(drop="survey"), name="dropped.yaml"))
    assert dropped.exit_code == 0 and "warning" not in dropped.output     # only retired: no question
    with points.transaction(app) as book:
        fire(book, member.id, "sign_in", "sign_in", "2026-11-23")
    renamed = EXAMPLE.read_text(encoding="utf-8").replace("  - id: sign-in\n", "  - id: daily-sign-in\n")
    assert renamed != EXAMPLE.read_text(encoding="utf-8")
    path = rules_file(renamed)
    refused = cli("points", "load", path)
    assert refused.exit_code == 1
    assert ("warning: rule sign-in is retired and daily-sign-in is added, both on trigger sign_in: "
            "members who got sign-in today") in refused.output
    assert "run again with --yes" in refused.output and "nothing changed" in refused.output
    assert ("sign-in", 1, True) in rows(db) and not any(code == "daily-sign-in" for code, _, _ in rows(db))
    loaded = cli("points", "load", path, "--yes")
    assert loaded.exit_code == 0, loaded.output
    assert "added: daily-sign-in v1" in loaded.output and "retired: sign-in" in loaded.output
