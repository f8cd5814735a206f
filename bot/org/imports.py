"""`stores import`, `staff import` and `members import` (issue #4): the organisation from CSV files.

Every import reads the whole file first and reports each bad row with its line number; nothing is
written unless the file is valid, or `--skip-bad` is given (DESIGN.md, operator contract). Then it
writes behind a progress bar:

- stores and the staff roster in one transaction each (a roster change and the menu-role changes
  it causes commit together; the tag jobs are queued after the commit);
- legacy members one per transaction, each keyed so that running the file again (or finishing an
  interrupted run) credits nobody twice.

Files are UTF-8 (Excel's BOM accepted); column names are matched without case or surrounding
spaces; an empty cell of an optional column takes the column's default.
"""
import csv
import io
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Iterator

import click
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import points
from bot.jobs import JobBuffer
from bot.phones import mask_phone, normalize
from bot.points.engine import adjust
from bot.points.policy import CST, current_policy
from bot.roles import role_for, set_role
from models import Company, Fan, Member, Staff, Store
from models.org import AGENT, ROLES
from models.points import ADJUST, GROWTH

STORE_COLUMNS, STORE_OPTIONAL = ("code", "name", "company"), ("company_name",)
STAFF_COLUMNS, STAFF_OPTIONAL = ("phone", "name", "store", "roles"), ("capacity", "default_agent", "active")
MEMBER_COLUMNS = ("phone", "name", "birthday", "points", "level")

CODE = re.compile(r"^\S{1,32}$")                 # store and company codes: no spaces, up to 32
ROLE_SEPARATORS = re.compile(r"[,;|\s]+")
WHOLE = re.compile(r"^\d+$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
YES, NO = {"true", "1", "yes", "y", "是"}, {"false", "0", "no", "n", "否"}
LEGACY_POINTS_REASON, LEGACY_LEVEL_REASON = "原会员系统积分", "原会员等级"
NOTES_SHOWN = 20                                 # "already a member" notes printed per run

Problems = list[tuple[int, str]]                 # (line number, message)


# --- reading a file -------------------------------------------------------------------------

@dataclass
class Sheet:
    rows: list[tuple[int, dict[str, str]]]       # (line number, column: stripped value)
    bad: Problems


def read_sheet(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> Sheet:
    """The rows of a CSV file; a file that cannot be read as a whole stops the command."""
    try:
        text = path.read_text(encoding="utf-8-sig")      # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError:
        raise click.ClickException(f"{path} is not UTF-8 text (save the CSV as UTF-8)")
    expected = ",".join(required) + (f"[,{','.join(optional)}]" if optional else "")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [c for c in required if c not in header]
        unknown = [c for c in header if c not in required + optional]
        twice = sorted({c for c in header if header.count(c) > 1})
        for problem, names in (("missing columns", missing), ("unknown columns", unknown),
                               ("columns given twice", twice)):
            if names:
                raise click.ClickException(f"{path}:1: {problem} {', '.join(names) or '(empty)'} "
                                           f"(expected {expected})")
        rows, bad = [], []
        for fields in reader:
            if not any(value.strip() for value in fields):
                continue                                          # a blank line
            if len(fields) > len(header):
                bad.append((reader.line_num, "more fields than columns"))
                continue
            fields += [""] * (len(header) - len(fields))
            rows.append((reader.line_num, {name: value.strip() for name, value in zip(header, fields)}))
    except csv.Error as exc:
        raise click.ClickException(f"{path}:{reader.line_num}: not readable as CSV ({exc})")
    return Sheet(rows, bad)


def report(path: Path, bad: Problems, skip_bad: bool) -> None:
    """Print the bad rows; stop before writing anything unless `--skip-bad`."""
    for number, message in sorted(bad):
        click.echo(f"{path}:{number}: {message}", err=True)
    if bad and not skip_bad:
        raise click.ClickException(f"{len(bad)} bad rows; nothing imported (fix them, or --skip-bad)")


def _flag(value: str, default: bool) -> bool | None:
    if not value:
        return default
    lowered = value.lower()
    return True if lowered in YES else False if lowered in NO else None


def _text(values: dict, column: str, limit: int, required: bool = True) -> str | None:
    """The cell, or None when it is empty (and required) or too long."""
    value = values.get(column, "")
    return None if (required and not value) or len(value) > limit else value


@contextmanager
def _transaction(app: Flask) -> Iterator[tuple[Session, JobBuffer]]:
    """One committed transaction; the jobs it asked for are queued after the commit."""
    buffer = JobBuffer()
    db = app.extensions["db"]()
    try:
        with db.begin():
            yield db, buffer
    except BaseException:
        buffer.drop()
        raise
    finally:
        db.close()
    buffer.flush(app.extensions["jobs"])


# --- stores ---------------------------------------------------------------------------------

@dataclass
class StoreRow:
    line: int
    code: str
    name: str
    company: str
    company_name: str | None       # None: keep the company's name (a new company is named by its code)


def check_stores(path: Path) -> tuple[list[StoreRow], Problems]:
    sheet = read_sheet(path, STORE_COLUMNS, STORE_OPTIONAL)
    rows, bad = [], list(sheet.bad)
    stores_seen: dict[str, int] = {}
    company_names: dict[str, tuple[str, int]] = {}
    for number, values in sheet.rows:
        row, problem = _store_row(number, values)
        if problem is None and row.code in stores_seen:
            problem = f"store {row.code} is also on line {stores_seen[row.code]}"
        if problem is None and row.company_name is not None:
            named, where = company_names.setdefault(row.company, (row.company_name, number))
            if named != row.company_name:
                problem = f"company {row.company} is named {named!r} on line {where}"
        if problem:
            bad.append((number, problem))
            continue
        stores_seen[row.code] = number
        rows.append(row)
    return rows, bad


def _store_row(number: int, values: dict) -> tuple[StoreRow | None, str | None]:
    code, company = values["code"], values["company"]
    if not CODE.match(code):
        return None, f"store code {code!r} is empty, longer than 32 characters or has spaces"
    name = _text(values, "name", 64)
    if name is None:
        return None, "name is empty or longer than 64 characters"
    if not CODE.match(company):
        return None, f"company code {company!r} is empty, longer than 32 characters or has spaces"
    company_name = _text(values, "company_name", 64, required=False)
    if company_name is None:
        return None, "company_name is longer than 64 characters"
    return StoreRow(number, code, name, company, company_name or None), None


def import_stores(app: Flask, path: Path, skip_bad: bool) -> None:
    rows, bad = check_stores(path)
    report(path, bad, skip_bad)
    added = updated = unchanged = companies_added = companies_renamed = 0
    with _transaction(app) as (db, _jobs):
        companies = {c.code: c for c in db.scalars(select(Company))}
        stores = {s.code: s for s in db.scalars(select(Store).where(Store.code.in_([r.code for r in rows])))}
        with click.progressbar(rows, label=f"importing {len(rows)} stores") as bar:
            for row in bar:
                company = companies.get(row.company)
                if company is None:
                    company = companies[row.company] = Company(code=row.company,
                                                               name=row.company_name or row.company)
                    db.add(company)
                    db.flush()
                    companies_added += 1
                elif row.company_name and company.name != row.company_name:
                    company.name = row.company_name
                    companies_renamed += 1
                store = stores.get(row.code)
                if store is None:
                    db.add(Store(code=row.code, name=row.name, company_id=company.id))
                    added += 1
                elif (store.name, store.company_id) != (row.name, company.id):
                    store.name, store.company_id = row.name, company.id
                    updated += 1
                else:
                    unchanged += 1
    click.echo(f"stores: {added} added, {updated} updated, {unchanged} unchanged; companies: "
               f"{companies_added} added, {companies_renamed} renamed; {len(bad)} bad rows skipped")


# --- the staff roster -----------------------------------------------------------------------

@dataclass
class StaffRow:
    line: int
    phone: str
    name: str
    store_id: int
    roles: str                    # canonical: models.org.ROLES order, comma-separated
    capacity: int
    default_agent: bool
    active: bool

    def fields(self) -> tuple:
        return self.name, self.store_id, self.roles, self.capacity, self.default_agent, self.active


@dataclass
class Roster:
    rows: list[StaffRow]
    bad: Problems
    warnings: Problems
    kept: set[str] = field(default_factory=set)   # phones on bad rows: never pruned


def check_staff(app: Flask, path: Path) -> Roster:
    sheet = read_sheet(path, STAFF_COLUMNS, STAFF_OPTIONAL)
    with app.extensions["db"]() as db:
        stores = dict(db.execute(select(Store.code, Store.id)).all())
    roster = Roster([], list(sheet.bad), [])
    seen: dict[str, int] = {}
    for number, values in sheet.rows:
        phone = normalize(values["phone"])
        row, problem = _staff_row(number, values, stores)
        if problem is None and row.phone in seen:
            problem = f"phone {mask_phone(row.phone)} is also on line {seen[row.phone]}"
        if problem:
            roster.bad.append((number, problem))
            if phone:
                roster.kept.add(phone)
            continue
        seen[row.phone] = number
        roster.rows.append(row)
        roles = row.roles.split(",")
        if AGENT in roles and row.capacity == 0 and row.active:
            roster.warnings.append((number, f"agent {mask_phone(row.phone)} has capacity 0 "
                                            f"and will be offered no conversations"))
        if row.default_agent and AGENT not in roles:
            roster.warnings.append((number, f"{mask_phone(row.phone)} is default_agent without the agent role"))
    return roster


def _staff_row(number: int, values: dict, stores: dict[str, int]) -> tuple[StaffRow | None, str | None]:
    phone = normalize(values["phone"])
    if phone is None:
        return None, f"phone {mask_phone(values['phone'])} is not a mainland mobile number"
    name = _text(values, "name", 64)
    if name is None:
        return None, "name is empty or longer than 64 characters"
    store_id = stores.get(values["store"])
    if store_id is None:
        return None, f"no store {values['store']!r} (import the stores first: stores import)"
    given = {r.lower() for r in ROLE_SEPARATORS.split(values["roles"]) if r}
    if given - set(ROLES):
        return None, f"unknown roles {', '.join(sorted(given - set(ROLES)))} (roles are {', '.join(ROLES)})"
    capacity = values.get("capacity") or "0"
    if not WHOLE.match(capacity) or int(capacity) > 10_000:
        return None, f"capacity {capacity!r} is not a whole number from 0"
    default_agent, active = _flag(values.get("default_agent", ""), False), _flag(values.get("active", ""), True)
    for column, value in (("default_agent", default_agent), ("active", active)):
        if value is None:
            return None, f"{column} {values[column]!r} is not true/false (1/0, yes/no, 是/否)"
    return StaffRow(number, phone, name, store_id, ",".join(r for r in ROLES if r in given), int(capacity),
                    default_agent, active), None


@dataclass
class RosterChanges:
    added: int = 0
    updated: int = 0
    deactivated: int = 0
    reactivated: int = 0
    unchanged: int = 0
    members: set[int] = field(default_factory=set)   # linked members whose staff role changed
    fans: int = 0                                     # fans whose menu role changes


def import_staff(app: Flask, path: Path, prune: bool, skip_bad: bool) -> None:
    roster = check_staff(app, path)
    for number, message in roster.warnings:
        click.echo(f"{path}:{number}: warning: {message}", err=True)
    report(path, roster.bad, skip_bad)
    if prune and not roster.rows:
        raise click.ClickException(f"{path} lists nobody; refusing to deactivate the whole roster")
    done = RosterChanges()
    with _transaction(app) as (db, jobs):
        # Locked: a binding that links a member to one of these rows meanwhile waits for us,
        # so no deactivation misses a member linked during the import.
        staff = {s.phone: s for s in db.scalars(select(Staff).order_by(Staff.id).with_for_update())}
        with click.progressbar(roster.rows, label=f"importing {len(roster.rows)} staff") as bar:
            for row in bar:
                _upsert(db, staff.get(row.phone), row, done)
        if prune:
            listed = {row.phone for row in roster.rows} | roster.kept
            for person in staff.values():
                if person.active and person.phone not in listed:
                    _set_active(person, False, done)
        db.flush()
        for member_id in sorted(done.members):
            fans = db.scalars(select(Fan).where(Fan.member_id == member_id).order_by(Fan.id).with_for_update())
            for fan in fans:
                role = role_for(db, fan)
                if fan.role_tag != role:
                    set_role(fan, role, jobs)
                    done.fans += 1
    click.echo(f"staff: {done.added} added, {done.updated} updated, {done.deactivated} deactivated, "
               f"{done.reactivated} reactivated, {done.unchanged} unchanged; {len(roster.bad)} bad rows skipped")
    if roster.kept and prune:
        click.echo(f"{len(roster.kept)} staff on bad rows were not pruned")
    if done.fans:
        click.echo(f"menu role changed for {done.fans} fans (tag jobs queued)")


def _upsert(db: Session, person: Staff | None, row: StaffRow, done: RosterChanges) -> None:
    if person is None:
        db.add(Staff(phone=row.phone, name=row.name, store_id=row.store_id, roles=row.roles,
                     capacity=row.capacity, default_agent=row.default_agent, active=row.active))
        done.added += 1
        return
    before = (person.name, person.store_id, person.roles, person.capacity, person.default_agent, person.active)
    if before == row.fields():
        done.unchanged += 1
        return
    person.name, person.store_id, person.roles = row.name, row.store_id, row.roles
    person.capacity, person.default_agent = row.capacity, row.default_agent
    if person.active == row.active:
        done.updated += 1
    else:
        _set_active(person, row.active, done)


def _set_active(person: Staff, active: bool, done: RosterChanges) -> None:
    person.active = active
    if active:
        done.reactivated += 1
    else:
        done.deactivated += 1
    if person.member_id is not None:
        done.members.add(person.member_id)


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
    name = _text(values, "name", 64, required=False)
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
    if not WHOLE.match(values["points"] or "0"):
        return None, f"points {values['points']!r} is not a whole number from 0"
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
    with click.progressbar(rows, label=f"importing {len(rows)} members") as bar:
        for row in bar:
            try:
                with points.transaction(app) as book:
                    created = _create_member(book, row)
            except IntegrityError:        # the phone was bound meanwhile (the chat created the member)
                created = False
            except LookupError as exc:   # the policy changed between the check and the write
                failed.append((row.line, str(exc)))
                click.echo(f"\n{path}:{row.line}: {exc}", err=True)
                continue
            if created:
                imported += 1
                credited += row.points
            else:
                already.append((row.line, f"{mask_phone(row.phone)} became a member meanwhile; skipped"))
    for number, note in sorted(already)[:NOTES_SHOWN]:
        click.echo(f"{path}:{number}: {note}")
    if len(already) > NOTES_SHOWN:
        click.echo(f"… and {len(already) - NOTES_SHOWN} more already members")
    click.echo(f"members: {imported} imported, {credited} points credited; {len(already)} already members; "
               f"{len(bad) + len(failed)} bad rows skipped")
    if failed and not skip_bad:
        raise click.ClickException(f"{len(failed)} rows could not be imported")


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
