"""`members import`: members of the old CRM, recognised when they bind their phone.

Members are written in transactions of BATCH rows (a batch that meets a change made meanwhile
is done again row by row); each member's entries are keyed by phone, so running the file
again, or finishing an interrupted run, credits nobody twice.
"""
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import points
from bot.clock import CST
from bot.phones import mask_phone, normalize
from bot.points.engine import adjust
from bot.points.policy import current_policy
from models import Member
from models.points import ADJUST, GROWTH
from bot.org.sheets import (BATCH, DAY, LEGACY_LEVEL_REASON, LEGACY_POINTS_REASON, MAX_POINTS,
                            MEMBER_COLUMNS, NOTES_SHOWN, WHOLE, Problems, cell, read_sheet, report)


# --- members from the old CRM ---------------------------------------------------------------

@dataclass
class LegacyRow:
    line: int
    phone: str
    name: str | None
    birthday: date | None
    points: int
    level: str                    # a level code of the policy in force


def check_members(app: Flask, path: Path) -> tuple[list[LegacyRow], Problems, Problems]:
    """(members to create, bad rows, rows whose phone is already a member)."""
    sheet = read_sheet(path, MEMBER_COLUMNS)
    clock = app.extensions["clock"]
    today = clock.now().astimezone(CST).date()
    with app.extensions["db"]() as db:
        tiers = current_policy(db).tiers
        rows, bad, seen = [], list(sheet.bad), {}
        for number, values in sheet.rows:
            row, problem = _member_row(number, values, tiers, today)
            if problem is None and row.phone in seen:
                problem = f"phone {mask_phone(row.phone)} is also on line {seen[row.phone]}"
            if problem:
                bad.append((number, problem))
            else:
                seen[row.phone] = number
                rows.append(row)
        known = _members_among(db, [row.phone for row in rows])
    fresh = [row for row in rows if row.phone not in known]
    already = [(row.line, f"{mask_phone(row.phone)} is already a member; skipped (nothing credited)")
               for row in rows if row.phone in known]
    return fresh, bad, already


def _members_among(db: Session, phones: list[str]) -> set[str]:
    found = set()
    for start in range(0, len(phones), 500):
        found.update(db.scalars(select(Member.phone).where(Member.phone.in_(phones[start:start + 500]))))
    return found


def _member_row(number: int, values: dict, tiers: list[dict], today: date) -> tuple[LegacyRow | None, str | None]:
    phone = normalize(values["phone"])
    if phone is None:
        return None, f"phone {mask_phone(values['phone'])} is not a mainland mobile number"
    name = cell(values, "name", 64, required=False)
    if name is None:
        return None, "name is longer than 64 characters"
    birthday = None
    if values["birthday"]:
        try:
            birthday = date.fromisoformat(values["birthday"]) if DAY.match(values["birthday"]) else None
        except ValueError:
            pass
        if birthday is None or birthday > today:
            return None, f"birthday {values['birthday']!r} is not a past date like 1990-05-17"
    if not WHOLE.match(values["points"] or "0") or int(values["points"] or 0) > MAX_POINTS:
        return None, f"points {values['points']!r} is not a whole number from 0 to {MAX_POINTS}"
    level = values["level"]
    tier = tiers[0] if not level else next(
        (t for t in tiers if t["code"] == level), next((t for t in tiers if t["name"] == level), None))
    if tier is None:
        known = ", ".join(f"{t['code']} ({t['name']})" for t in tiers)
        return None, f"level {level!r} is not a level of the points policy (levels: {known})"
    return LegacyRow(number, phone, name or None, birthday, int(values["points"] or 0), tier["code"]), None


def import_members(app: Flask, path: Path, skip_bad: bool) -> None:
    rows, bad, already = check_members(app, path)
    report(path, bad, skip_bad)
    imported = credited = 0
    failed: Problems = []
    with click.progressbar(length=len(rows), label=f"importing {len(rows)} members") as bar:
        for start in range(0, len(rows), BATCH):
            batch = rows[start:start + BATCH]
            try:
                with points.transaction(app) as book:
                    outcomes = [(row, _create_member(book, row)) for row in batch]
            except (IntegrityError, LookupError):
                # A phone bound meanwhile, or the levels changed: the batch again, row by row.
                outcomes = [(row, _create_alone(app, row)) for row in batch]
            for row, outcome in outcomes:
                if outcome is True:
                    imported += 1
                    credited += row.points
                elif outcome is False:
                    already.append((row.line, f"{mask_phone(row.phone)} became a member meanwhile; skipped"))
                else:
                    failed.append((row.line, outcome))
                    click.echo(f"\n{path}:{row.line}: {outcome}", err=True)
            bar.update(len(batch))
    for number, note in sorted(already)[:NOTES_SHOWN]:
        click.echo(f"{path}:{number}: {note}")
    if len(already) > NOTES_SHOWN:
        click.echo(f"… and {len(already) - NOTES_SHOWN} more already members")
    click.echo(f"members: {imported} imported, {credited} points credited; {len(already)} already members; "
               f"{len(bad) + len(failed)} bad rows skipped")
    if failed and not skip_bad:
        raise click.ClickException(f"{len(failed)} rows could not be imported")


def _create_alone(app: Flask, row: LegacyRow) -> bool | str:
    """One row in its own transaction: created, already a member, or why not."""
    try:
        with points.transaction(app) as book:
            return _create_member(book, row)
    except IntegrityError:        # the chat created the member with this phone meanwhile
        return False
    except LookupError as exc:
        return str(exc)


def _create_member(book, row: LegacyRow) -> bool:
    """The member with their opening points and the growth their level needs; False when the
    phone is a member already (never credited twice: the entries are keyed by phone)."""
    db = book.db
    if db.scalar(select(Member.id).where(Member.phone == row.phone)) is not None:
        return False
    tier = next((t for t in book.policy.tiers if t["code"] == row.level), None)
    if tier is None:
        raise LookupError(f"level {row.level} is no longer in the points policy; run the import again")
    member = Member(phone=row.phone, name=row.name, birthday=row.birthday, imported=True,
                    level=tier["code"], level_since=book.now)
    db.add(member)
    db.flush()
    if row.points:
        adjust(book, member.id, row.points, LEGACY_POINTS_REASON, actor="import", key=f"legacy:{row.phone}")
    growth_key = f"adjust:legacy-growth:{row.phone}"
    # The nightly recalculation sets levels from growth: the opening growth keeps the level.
    if tier["growth"] > 0 and book.entry(growth_key) is None:
        book.post(book.lock(member.id), GROWTH, tier["growth"], ADJUST, growth_key, LEGACY_LEVEL_REASON,
                  ("legacy", row.phone))
    return True
