"""Automatic tags from behaviour: seed 004's four rules as a file, evaluated over a month of
pushes, purchases and redemptions, with every count checked against the raw rows; a changed
rule taking tags off; incremental runs; WeChat's copy following within the tags policy."""
import pytest

from tests.tag_rules_support import EXAMPLE, direct_counts, fan_ids, month_of_behaviour, rule_tagged
from tests.test_tags import on_wechat

SEED_TAGS = ("抽奖爱好者", "潜在购买", "匿名了解", "多次购买")


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["tags", "rules", *args])


def write(tmp_path, text: str, name: str = "rules.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def expected(counts) -> dict[str, set[int]]:
    """Seed 004's rules, computed from the raw rows' counts."""
    return {
        "抽奖爱好者": {f for f, c in counts.items() if c["click:LOTTERY"] >= 3 or c["text:抽奖"] >= 3},
        "潜在购买": {f for f, c in counts.items() if c["location"] >= 1},
        "匿名了解": {f for f, c in counts.items() if c["click"] >= 1},
        "多次购买": {f for f, c in counts.items() if c["purchase"] >= 2},
    }


@pytest.fixture
def month(app, account, phone, jobs, clock):
    return month_of_behaviour(app, phone, jobs, clock)


def test_seed_rules_over_a_month_match_a_direct_count(app, db, month, jobs, clock, tmp_path, world):
    path = write(tmp_path, EXAMPLE)
    result = cli(app, "load", path, "--check")
    assert result.exit_code == 0 and "4 rules OK; nothing written" in result.output
    assert "no tag rules loaded" in cli(app, "list").output
    assert "new 4" in cli(app, "load", path).output
    want = expected(direct_counts(db, clock.now()))
    assert all(want[t] for t in ("抽奖爱好者", "潜在购买", "匿名了解", "多次购买")), want   # the data covers each
    assert want["匿名了解"] != set(fan_ids(db, month).values())    # and not every fan matches
    preview = cli(app, "preview", "browsing").output
    assert f"{len(want['匿名了解'])} fans match now; it tags 0 now; a run would add {len(want['匿名了解'])}" in preview
    ran = cli(app, "run")
    assert ran.exit_code == 0, ran.output
    for tag in SEED_TAGS:
        assert rule_tagged(db, tag) == want[tag], tag
    assert f"browsing: +{len(want['匿名了解'])} -0" in ran.output and "looked at every fan" in ran.output
    jobs.run_all()          # the mirror: WeChat's copy follows, the role tag still last
    for name, person in month.items():
        carried = on_wechat(world, person)
        assert carried[-1] == ("会员" if name in ("alice", "bob", "carol") else "粉丝")
        fan = fan_ids(db, month)[name]
        assert {t for t in SEED_TAGS if fan in want[t]} == set(carried) & set(SEED_TAGS), name
    again = cli(app, "run")
    assert all(f"{n}: +0 -0" in again.output for n in ("lottery-fans", "browsing", "repeat-buyers"))


def test_a_changed_rule_takes_off_tags_that_no_longer_hold(app, db, month, jobs, clock, tmp_path, world):
    cli(app, "load", write(tmp_path, EXAMPLE))
    cli(app, "run")
    jobs.run_all()
    before = rule_tagged(db, "匿名了解")
    counts = direct_counts(db, clock.now())
    clicks = sorted({counts[f]["click"] for f in before})
    bar = clicks[len(clicks) // 2]               # about half the tagged fans click that often
    stricter = EXAMPLE.replace("when: {did: click, within: 30d, at_least: 1}",
                               f"when: {{did: click, within: 30d, at_least: {bar}}}")
    assert "changed 1" in cli(app, "load", write(tmp_path, stricter, "v2.yaml")).output
    assert "changed: runs over every fan next" in cli(app, "list").output
    want = {f for f, c in counts.items() if c["click"] >= bar}
    assert want and want < before
    ran = cli(app, "run", "--rule", "browsing")
    assert f"browsing: +0 -{len(before - want)}" in ran.output
    assert rule_tagged(db, "匿名了解") == want
    jobs.run_all()
    ids = fan_ids(db, month)
    for name, person in month.items():
        assert ("匿名了解" in on_wechat(world, person)) == (ids[name] in want), name


def test_incremental_runs_look_only_at_fans_with_changes(app, db, month, jobs, clock, tmp_path):
    cli(app, "load", write(tmp_path, EXAMPLE))
    cli(app, "run")
    ids = fan_ids(db, month)
    quiet = next(n for n in month if ids[n] not in rule_tagged(db, "潜在购买"))
    month[quiet].location(30.0, 120.0, "杭州")
    ran = cli(app, "run", "--rule", "potential-buyers")
    assert "potential-buyers: +1 -0" in ran.output and "looked at 1 fans with changes" in ran.output
    assert ids[quiet] in rule_tagged(db, "潜在购买")
    # A month later nobody has sent a location within 30 days: the tags age out.
    clock.advance(days=31)
    ran = cli(app, "run", "--rule", "potential-buyers")
    assert rule_tagged(db, "潜在购买") == set()
    assert "0 fans tagged" in ran.output


def test_the_hourly_job_runs_each_rule_when_it_is_due(app, db, month, jobs, clock, tmp_path):
    from workers.tag_rules import evaluate_due
    cli(app, "load", write(tmp_path, EXAMPLE))
    with app.app_context():
        assert set(evaluate_due()) == {"lottery-fans", "potential-buyers", "browsing", "repeat-buyers"}
        clock.advance(hours=1)
        assert evaluate_due() == {}                       # nothing due an hour later
        clock.advance(days=1)
        assert set(evaluate_due()) == {"potential-buyers", "browsing", "repeat-buyers"}   # every 1d
        clock.advance(days=6)
        assert "lottery-fans" in evaluate_due()           # every 7d


BAD = """\
rules:
  - name: Bad Name
    tag: 粉丝
    every: soon
    when: {did: click, within: 30d}
  - name: loops
    tag: A
    every: 1d
    when: {all: [{tag: B}, {did: scan, channel: 门店, within: 7d, at_least: 1}]}
  - name: loops-back
    tag: B
    every: 1d
    when: {tag: A}
  - name: survey
    tag: C
    every: 1d
    when: {did: survey_complete, within: 30d}
  - name: typo
    tag: D
    every: 1d
    when: {did: clik, within: 30d, key: X, extra: 1}
"""


def test_a_bad_file_names_every_problem_by_line_and_writes_nothing(app, db, tmp_path):
    result = cli(app, "load", write(tmp_path, BAD))
    assert result.exit_code != 0
    out = result.output
    assert "rules.yaml:2: name 'Bad Name' must be lower-case" in out
    assert "rules.yaml:3: tag '粉丝' must be a name" in out and "menu-role tag" in out
    assert "rules.yaml:4: every 'soon' must be like 1d or 12h" in out
    assert "rules.yaml:6: rule loops: tests tag 'B', which the rule on line 10 gives" in out
    assert "rules.yaml:10: rule loops-back: tests tag 'A', which the rule on line 6 gives" in out
    assert "rules.yaml:17: did: survey_complete: surveys are not part of this system yet" in out
    assert "rules.yaml:21: unknown field 'extra'" in out and "did 'clik' is not a behaviour we count" in out
    assert "nothing was loaded" in out
    assert "no tag rules loaded" in cli(app, "list").output


def test_preview_of_a_file_before_loading_it_and_of_an_unknown_rule(app, db, month, clock, tmp_path):
    path = write(tmp_path, EXAMPLE)
    counts = direct_counts(db, clock.now())
    n = sum(1 for c in counts.values() if c["location"] >= 1)
    assert f"rule potential-buyers (潜在购买): {n} fans match now" in cli(app, "preview", "potential-buyers",
                                                                         "--file", path).output
    missing = cli(app, "preview", "nope")
    assert missing.exit_code != 0 and "`tags rules list` shows the loaded ones" in missing.output


def test_many_candidates_are_matched_in_one_pass_with_the_same_tags(app, db, month, clock, tmp_path, monkeypatch):
    """Above IN_SQL candidates a condition is one query intersected in Python rather than a query
    with the candidates' ids in an IN list (tested against every event row): the same tags either
    way. IN_SQL 1 sends an `all` rule's second condition down that path; it must tag exactly the
    fans who clicked a menu and sent a location."""
    from bot.tag_rules import evaluate
    monkeypatch.setattr(evaluate, "IN_SQL", 1)
    both = EXAMPLE + """  - name: browsing-buyers
    tag: 看了又来
    every: 1d
    when:
      all:
        - {did: click, within: 30d, at_least: 1}
        - {did: location, within: 30d, at_least: 1}
"""
    assert cli(app, "load", write(tmp_path, both)).exit_code == 0
    assert cli(app, "run").exit_code == 0
    want = expected(direct_counts(db, clock.now()))
    for tag in SEED_TAGS:
        assert rule_tagged(db, tag) == want[tag], tag
    assert len(want["匿名了解"]) > 1
    assert rule_tagged(db, "看了又来") == want["匿名了解"] & want["潜在购买"]
