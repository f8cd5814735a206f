"""`flask --app wsgi surveys load|list|results`: the operators' side of surveys (HQ scope;
`results --as OPERATOR|PHONE` within that operator's or store manager's reach, bot/scope.py)."""
import csv
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from bot import scope as scopes
from bot.clock import CST
from bot.jobs import committed
from bot.surveys import catalog, results
from bot.surveys.definition import SurveyFileError, parse
from models import Staff, Survey, SurveyLink

surveys_cli = AppGroup("surveys", help="Surveys guides send from the chat: load, list, results.")
STATES = {None: "open", catalog.NOT_YET: "not yet open", catalog.CLOSED: "closed", catalog.FULL: "full"}


@surveys_cli.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Validate only; write nothing.")
def load_command(path: Path, check: bool) -> None:
    """Load a survey file: all or nothing, errors by line."""
    app = current_app
    try:
        surveys = parse(path.read_text(encoding="utf-8"))
        with committed(app) as (db, _jobs):
            warnings = catalog.check_against_database(db, surveys)
            if not check:
                counts = catalog.load(db, surveys, app.extensions["clock"].now())
    except SurveyFileError as exc:
        for line, problem in exc.problems:
            click.echo(f"line {line}: {problem}", err=True)
        raise SystemExit(1)
    for warning in warnings:
        click.echo(warning, err=True)
    if check:
        click.echo(f"{len(surveys)} surveys OK; nothing written (--check).")
        return
    click.echo(f"{counts['surveys']} surveys loaded ({counts['new']} new); links and responses kept.")


@surveys_cli.command("list")
def list_command() -> None:
    """Every survey: code, title, dates, points, completed (of the quota), links, state."""
    now = current_app.extensions["clock"].now()
    with current_app.extensions["db"]() as db:
        links = dict(db.execute(select(SurveyLink.survey_id, func.count()).group_by(SurveyLink.survey_id)).all())
        for s in db.scalars(select(Survey).order_by(Survey.code)):
            days = f"{s.starts_on or '…'}~{s.ends_on or '…'}"
            done = f"completed {s.completed}" + (f"/{s.quota}" if s.quota else "")
            click.echo("\t".join([s.code, s.title, days, f"{s.points}分", done, f"links {links.get(s.id, 0)}",
                                  STATES[catalog.state(s, now)]]))


@surveys_cli.command("results")
@click.argument("code")
@click.option("--guide", "guide_phone", help="Only this guide's links (the guide's phone).")
@click.option("--group", help="Only this tour group.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table")
@click.option("--as", "asker", help="An operator's name or a staff manager's phone: only the links in their reach.")
def results_command(code: str, guide_phone: str | None, group: str | None, fmt: str, asker: str | None) -> None:
    """Per link and per question; --format csv: one row per completed response."""
    with current_app.extensions["db"]() as db:
        try:
            reach = scopes.resolve(db, asker)
        except scopes.NotAllowed as refusal:
            raise click.ClickException(f"not allowed: {refusal}") from None
        survey = db.scalar(select(Survey).where(Survey.code == code, reach.where(Survey)))
        if survey is None:
            raise click.ClickException(f"no survey {code} in {reach.who}'s scope (surveys list shows the codes)")
        staff_id = None
        if guide_phone:
            staff_id = db.scalar(select(Staff.id).where(Staff.phone == guide_phone))
            if staff_id is None:
                raise click.ClickException("no staff member has that phone (staff list shows the roster)")
        scope = results.Scope(staff_id=staff_id, group=group, reach=reach)
        rows = results.completed_responses(db, survey, scope)
        if fmt == "csv":
            csv.writer(sys.stdout).writerows(results.csv_rows(survey, rows, reach.phone))
            return
        click.echo(f"{survey.code} {survey.title}")
        for s in results.link_stats(db, scope, survey):
            last = s.last_completed.astimezone(CST).strftime("%Y-%m-%d %H:%M") if s.last_completed else "-"
            click.echo(f"link {s.link_id}\t{s.guide}\t{s.store}\t团号 {s.group or '-'}\topened {s.opened}\t"
                       f"started {s.started}\tcompleted {s.completed}\tlast {last}")
        for item in results.aggregates(survey, [r[0].answers for r in rows]):
            click.echo(f"{item['id']}\t{item['title']}\tanswered {item['answered']}"
                       + (f"\taverage {item['average']}" if item.get("average") is not None else ""))
            for option in item.get("options", []):
                click.echo(f"  {option['label']}\t{option['count']}\t{'█' * (option['bar'] // 5)}")
