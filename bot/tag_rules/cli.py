"""`flask --app wsgi tags rules load|list|preview|run`: automatic tags from behaviour.

The file's shape is in bot/tag_rules/file.py (bot/tag_rules/rules.example.yaml holds seed 004's
four rules). `run` does in the foreground what the hourly job does.
"""
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from bot.commands.columns import table
from bot.jobs import committed
from bot.tag_rules import file as rules_file
from bot.tag_rules.evaluate import satisfying, source_of, tagged
from bot.tag_rules.store import store
from models import FanTag, TagRule

rules_cli = AppGroup("rules", help="Automatic tag rules: load a file, list, preview, run.")


def _parse(path: Path) -> list[dict]:
    try:
        return rules_file.parse(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise click.ClickException(f"{path} is not UTF-8 text; save it as UTF-8 and load it again")
    except rules_file.RulesError as exc:
        for line, message in exc.errors:
            click.echo(f"{path}:{line}: {message}", err=True)
        raise click.ClickException(f"{len(exc.errors)} problem(s); nothing was loaded. Fix them and load again.")


@rules_cli.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Validate only; write nothing.")
def load_command(path: Path, check: bool) -> None:
    """Load rules.yaml: all or nothing, errors by line."""
    rules = _parse(path)
    if check:
        click.echo(f"{len(rules)} rules OK; nothing written (--check).")
        return
    with committed(current_app) as (db, enqueue):
        report = store(db, rules, enqueue)
    shown = ", ".join(f"{kind} {len(names)}" for kind, names in report.items())
    click.echo(f"{len(rules)} rules loaded ({shown}); new and changed rules run over every fan at the next run.")


@rules_cli.command("list")
def list_command() -> None:
    with current_app.extensions["db"]() as db:
        rules = list(db.scalars(select(TagRule).order_by(TagRule.line)))
    if not rules:
        click.echo("no tag rules loaded: flask --app wsgi tags rules load rules.yaml")
    for line in table([[rule.name, rule.tag, f"every {rule.every_hours}h", f"{rule.fans} fans", _last_run(rule)]
                       for rule in rules]):
        click.echo(line)


def _last_run(rule: TagRule) -> str:
    last = rule.evaluated_at.strftime("%Y-%m-%d %H:%M UTC") if rule.evaluated_at else "never"
    pending = " (changed: runs over every fan next)" if rule.evaluated_digest not in (None, rule.digest) else ""
    return f"last run {last}{pending}"


@rules_cli.command("preview")
@click.argument("name")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Preview the rule as this file has it (before loading it).")
def preview_command(name: str, path: Path | None) -> None:
    """How many fans the rule would tag now, and what a run would change."""
    app = current_app
    with app.extensions["db"]() as db:
        if path is not None:
            spec = next((r for r in _parse(path) if r["name"] == name), None)
        else:
            rule = db.scalar(select(TagRule).where(TagRule.name == name))
            spec = rule and {"name": rule.name, "tag": rule.tag, "when": rule.when}
        if spec is None:
            raise click.ClickException(f"no rule named {name!r}" + (f" in {path}" if path else
                                       "; `tags rules list` shows the loaded ones"))
        holds = satisfying(db, spec["when"], app.extensions["clock"].now())
        carrying = tagged(db, spec["name"], spec["tag"])
        elsewhere = set(db.scalars(select(FanTag.fan_id).where(FanTag.name == spec["tag"],
                                                               FanTag.source != source_of(spec["name"]))))
    click.echo(f"rule {name} ({spec['tag']}): {len(holds)} fans match now; it tags {len(carrying)} now; "
               f"a run would add {len(holds - carrying - elsewhere)} and remove {len(carrying - holds)}"
               + (f"; {len(holds & elsewhere)} carry the tag from elsewhere" if holds & elsewhere else ""))


@rules_cli.command("run")
@click.option("--rule", "names", multiple=True, help="Only this rule (repeatable).")
@click.option("--full", is_flag=True, help="Evaluate every fan, not only those with new rows.")
def run_command(names: tuple[str, ...], full: bool) -> None:
    """Evaluate the rules now (due or not), as the hourly job does."""
    outcomes = current_app.extensions["jobs"].run_now("workers.tag_rules.evaluate_due", list(names) or None,
                                                      full, True)
    if not outcomes:
        click.echo("no rule ran: none is loaded" + (" by that name" if names else ""))
    for name, outcome in outcomes.items():
        looked = "every fan" if outcome.looked_at is None else f"{outcome.looked_at} fans with changes"
        click.echo(f"{name}: +{len(outcome.added)} -{len(outcome.removed)}, {outcome.fans} fans tagged "
                   f"(looked at {looked})")
