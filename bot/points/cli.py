"""`flask --app wsgi points …` and `integrations …`: rules, members' points, purchase imports."""
import getpass
import secrets
import uuid
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from bot import points
from bot.commands.columns import table
from bot.phones import mask_phone, normalize
from bot.points import rules_file
from bot.points.engine import NotEnoughPoints, adjust, fire
from bot.points.import_purchases import import_purchases
from bot.points.policy import current_policy, load, renamed_rules
from bot.points import stages
from bot.points.summary import expiring, history, line, waiting_lines
from models import Integration, Member, MemberStage, PointsRule


@click.group("points", help="Points rules, members' points, purchase imports.", cls=AppGroup)
def points_cli():
    pass


@points_cli.command("load", help="Validate a rules file and make it the one in force.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Only validate; change nothing.")
@click.option("--yes", is_flag=True, help="Load even if a retired rule and an added rule share a trigger.")
def points_load(path: Path, check: bool, yes: bool):
    try:
        parsed = rules_file.parse(path.read_text(encoding="utf-8"))
    except rules_file.RulesError as exc:
        for number, message in exc.errors:
            click.echo(f"{path}:{number}: {message}", err=True)
        raise click.ClickException(f"{path} is not valid ({len(exc.errors)} errors); nothing changed")
    if check:
        click.echo(f"{path} is valid: {len(parsed['rules'])} rules")
        return
    with current_app.extensions["db"]() as db:
        renamed = renamed_rules(db, parsed)
    for retired, added, trigger in renamed:
        click.echo(f"warning: rule {retired} is retired and {added} is added, both on trigger {trigger}: "
                   f"members who got {retired} today (or this week, month...) get {added} again, "
                   "its frequency counts from zero", err=True)
    if renamed and not yes:
        raise click.ClickException("nothing changed; keep the old rule id to rename a rule, "
                                   "or run again with --yes to load it as it is")
    with points.transaction(current_app) as book:
        report = load(book.db, parsed)
    for what, names in (("added", report.added), ("new version", report.changed),
                        ("retired", report.retired), ("unchanged", report.unchanged)):
        if names:
            click.echo(f"{what}: {', '.join(names)}")
    click.echo(f"levels, caps, groups, expiry: {'updated' if report.policy_changed else 'unchanged'}")


@points_cli.command("rules", help="List the rules and settings in force.")
def points_rules():
    with current_app.extensions["db"]() as db:
        policy = current_policy(db)
        rows = db.scalars(select(PointsRule).where(PointsRule.in_force).order_by(PointsRule.code)).all()
    spec = policy.spec
    click.echo("levels: " + ", ".join(f"{t['name']}≥{t['growth']}" for t in policy.tiers)
               + (f" (downgrade window {spec['levels']['downgrade_window_months']} months)"
                  if spec["levels"]["downgrade_window_months"] else ""))
    click.echo(f"caps per member: {_caps(spec['caps'])}")
    exp = spec["expiry"]
    click.echo(f"expiry: {exp['policy']}" + (f" {exp['months']} months" if exp["policy"] == "months" else "")
               + (f" +{exp['years']} years" if exp["policy"] == "end_of_year" else "")
               + f", reminder {exp['remind_days']} days before")
    if not rows:
        click.echo("no rules in force: flask --app wsgi points load FILE")
    for row in rows:
        r = row.spec
        click.echo(f"{r['id']:<20} v{row.version:<3} {r['trigger']:<18} points {_amount(r['points']):<12} "
                   f"growth {_amount(r['growth']):<12} "
                   f"{_frequency(r['frequency'])} "
                   f"{_window(r)}{' group ' + r['group'] if r['group'] else ''}"
                   f"{_pending(r.get('pending'))}{' caps ' + _caps(r['caps']) if r.get('caps') else ''}"
                   f"{'' if r['enabled'] else ' DISABLED'}")
    for stage in spec.get("stages") or []:
        click.echo(f"stage {stage['code']:<14} {stage['name']}: "
                   + (", ".join(f"{k} {v}" for k, v in stage["when"].items()) or "everyone else"))


def _caps(caps: dict) -> str:
    growth = caps.get("growth") or {}
    return (f"day {caps['day'] or '-'}, month {caps['month'] or '-'}"
            + (f"; growth day {growth['day'] or '-'}, month {growth['month'] or '-'}" if growth else ""))


def _pending(pending: dict | None) -> str:
    if not pending:
        return ""
    when = lambda spec: "at once" if spec is None else (f"{spec['days']} days" if "days" in spec else "after trip_end")
    return (f" pending {when(pending['points'])}" if pending["points"] == pending["growth"]
            else f" pending points {when(pending['points'])}, growth {when(pending['growth'])}")


def _window(rule: dict) -> str:
    return f"{rule['from'] or '…'}–{rule['to'] or '…'}" if rule["from"] or rule["to"] else "always"


def _frequency(freq: dict) -> str:
    if freq["count"] is None:
        return "every time"
    return "once" if freq["per"] == "ever" and freq["count"] == 1 else f"{freq['count']}/{freq['per']}"


def _amount(spec) -> str:
    return f"{spec['award']}/{spec['per_fen'] / 100:g}元" if isinstance(spec, dict) else str(spec)


def _member(db, phone: str) -> Member:
    number = normalize(phone)
    member = db.scalar(select(Member).where(Member.phone == number)) if number else None
    if member is None:
        raise click.ClickException(f"no member with phone {mask_phone(number or phone)}")
    return member


@points_cli.command("show", help="A member's balances, level and recent entries.")
@click.argument("phone")
def points_show(phone: str):
    with current_app.extensions["db"]() as db:
        member = _member(db, phone)
        policy = current_policy(db)
        click.echo(f"member {member.id} {mask_phone(member.phone)}: {member.points} points, "
                   f"{member.growth} growth, level {policy.level_name(member.level)}")
        soon = expiring(db, member.id, current_app.extensions["clock"].now())
        if soon:
            click.echo(f"next expiry: {soon[0]} points valid through {soon[1]:%Y-%m-%d}")
        for waiting in waiting_lines(db, member.id):
            click.echo(waiting)
        click.echo(f"stage: {stages.describe(db, policy, member.id)}")
        for entry in history(db, member.id, 20):
            click.echo(f"  {line(entry)}{f'  [{entry.actor}]' if entry.actor else ''}")


@points_cli.command("adjust", help="Add (+N) or deduct (-N) points by hand; recorded with who and why.",
                    context_settings={"ignore_unknown_options": True})     # "-20" is a number here
@click.argument("phone")
@click.argument("delta", type=int)
@click.option("--reason", required=True, help="Shown to the member, e.g. 客诉补偿.")
@click.option("--by", "actor", default=None, help="Who is adjusting (default: the login name).")
@click.option("--key", default=None, help="Idempotency key: the same key again changes nothing.")
def points_adjust(phone: str, delta: int, reason: str, actor: str | None, key: str | None):
    if delta == 0:
        raise click.ClickException("an adjustment of 0 changes nothing")
    actor = actor or getpass.getuser()
    with current_app.extensions["db"]() as db:
        member_id = _member(db, phone).id
    try:
        with points.transaction(current_app) as book:
            entry = adjust(book, member_id, delta, reason.strip(), actor, key or uuid.uuid4().hex)
            balance = entry.balance
    except NotEnoughPoints as exc:
        raise click.ClickException(f"cannot deduct {-delta}: the balance is {exc.balance}")
    click.echo(f"{mask_phone(normalize(phone))}: {delta:+d} ({reason}) by {actor}; balance {balance}")


@points_cli.command("award", help="Pay a custom rule to a member for one event (once per event id).")
@click.argument("phone")
@click.option("--rule", "rule_code", required=True, help="The id of a rule with trigger: custom.")
@click.option("--event", "event_id", required=True, help="What happened, e.g. a campaign or ticket id.")
def points_award(phone: str, rule_code: str, event_id: str):
    with current_app.extensions["db"]() as db:
        member_id = _member(db, phone).id
        known = db.scalar(select(PointsRule.trigger).where(PointsRule.code == rule_code, PointsRule.in_force))
    if known != "custom":
        raise click.ClickException(f"no custom rule {rule_code} in force (see: points rules)")
    with points.transaction(current_app) as book:
        awards = fire(book, member_id, "custom", "custom", event_id, rule_code=rule_code)
        shown = [(a.status, a.points, a.growth, a in book.decided) for a in awards]
    if not shown:
        raise click.ClickException(f"rule {rule_code} is not active today (see its from/to and enabled)")
    for status, pts, growth, new in shown:
        click.echo(f"{mask_phone(normalize(phone))}: {rule_code} {status} {pts} points {growth} growth"
                   + ("" if new else " (already awarded for this event)"))


@points_cli.command("import-purchases", help="Record orders from a CSV: order_id,phone,amount,paid_at,payment_method[,trip_end].")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-bad", is_flag=True, help="Import the valid rows even if some are bad.")
def points_import_purchases(path: Path, skip_bad: bool):
    import_purchases(current_app, path, skip_bad)


@points_cli.command("stages", help="How many members are in each lifecycle stage now (the nightly job sets them).")
def points_stages():
    with current_app.extensions["db"]() as db:
        policy = current_policy(db)
        counts = dict(db.execute(select(MemberStage.stage, func.count()).where(MemberStage.left_at.is_(None))
                                 .group_by(MemberStage.stage)).all())
    defined = policy.spec.get("stages") or []
    if not defined:
        click.echo("no stages in the rules in force (see stages: in bot/points/rules.example.yaml)")
    for row in table([[stage["code"], stage["name"], f"{counts.get(stage['code'], 0)} members"]
                      for stage in defined]):
        click.echo(row)


@points_cli.command("run-daily", help="Run the scheduled points jobs now (birthdays, maturing, expiry, reminders, levels, stages).")
def points_run_daily():
    for name, count in current_app.extensions["jobs"].run_now("workers.points.daily").items():
        click.echo(f"{name}: {count} members")


@click.group("integrations", help="Systems allowed to report purchases (HMAC keys).", cls=AppGroup)
def integrations_cli():
    pass


@integrations_cli.command("add", help="Create an integration (or a new key for it); prints the key once.")
@click.argument("name")
def integrations_add(name: str):
    if not rules_file.CODE.match(name) or len(name) > 32:
        raise click.BadParameter("lower-case letters, digits, - or _", param_hint="NAME")
    key = secrets.token_hex(32)
    with points.transaction(current_app) as book:
        row = book.db.scalar(select(Integration).where(Integration.name == name))
        if row is None:
            book.db.add(Integration(name=name, secret=key))
        else:
            row.secret, row.active = key, True
    click.echo(f"integration {name}: key {key}\n(shown once; the booking system signs with it)")


@integrations_cli.command("list", help="Integrations and whether they may call.")
def integrations_list():
    with current_app.extensions["db"]() as db:
        for row in db.scalars(select(Integration).order_by(Integration.name)):
            click.echo(f"{row.name:<20} {'active' if row.active else 'disabled'}")


@integrations_cli.command("disable", help="Refuse further calls signed with this integration's key.")
@click.argument("name")
def integrations_disable(name: str):
    with points.transaction(current_app) as book:
        row = book.db.scalar(select(Integration).where(Integration.name == name))
        if row is None:
            raise click.ClickException(f"no integration {name}")
        row.active = False
    click.echo(f"integration {name} disabled")
