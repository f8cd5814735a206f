"""`stores import` and `staff import`: stores, companies and the staff roster.

Each runs in one transaction: a roster change and the menu-role changes it causes commit
together, and their tag jobs are queued after the commit.
"""
from dataclasses import dataclass, field
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.binding.roles import role_for, set_role
from bot.phones import mask_phone, normalize
from models import Company, Fan, Member, Staff, Store
from models.org import AGENT, ROLES
from bot.jobs import committed
from bot.org.sheets import (CODE, MAX_CAPACITY, ROLE_SEPARATORS, STAFF_COLUMNS, STAFF_OPTIONAL,
                            STORE_COLUMNS, STORE_OPTIONAL, WHOLE, Problems, cell, flag, read_sheet,
                            report)


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
    name = cell(values, "name", 64)
    if name is None:
        return None, "name is empty or longer than 64 characters"
    if not CODE.match(company):
        return None, f"company code {company!r} is empty, longer than 32 characters or has spaces"
    company_name = cell(values, "company_name", 64, required=False)
    if company_name is None:
        return None, "company_name is longer than 64 characters"
    return StoreRow(number, code, name, company, company_name or None), None


def import_stores(app: Flask, path: Path, skip_bad: bool) -> None:
    rows, bad = check_stores(path)
    report(path, bad, skip_bad)
    added = updated = unchanged = companies_added = companies_renamed = 0
    with committed(app) as (db, _jobs):
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
    """The row, or every problem it has at once (one fix-and-rerun per row, not per cell)."""
    problems = []
    phone = normalize(values["phone"])
    if phone is None:
        problems.append(f"phone {mask_phone(values['phone'])} is not a mainland mobile number")
    name = cell(values, "name", 64)
    if name is None:
        problems.append("name is empty or longer than 64 characters")
    store_id = stores.get(values["store"])
    if store_id is None:
        problems.append(f"no store {values['store']!r} (import the stores first: stores import)")
    given = {r.lower() for r in ROLE_SEPARATORS.split(values["roles"]) if r}
    if given - set(ROLES):
        problems.append(f"unknown roles {', '.join(sorted(given - set(ROLES)))} (roles are {', '.join(ROLES)})")
    capacity = values.get("capacity") or "0"
    if not WHOLE.match(capacity) or int(capacity) > MAX_CAPACITY:
        problems.append(f"capacity {capacity!r} is not a whole number from 0 to {MAX_CAPACITY}")
    default_agent, active = flag(values.get("default_agent", ""), False), flag(values.get("active", ""), True)
    for column, value in (("default_agent", default_agent), ("active", active)):
        if value is None:
            problems.append(f"{column} {values[column]!r} is not true/false (1/0, yes/no, 是/否)")
    if problems:
        return None, "; ".join(problems)
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
    with committed(app) as (db, jobs):
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
        _link_members(db, done)
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


def _link_members(db: Session, done: RosterChanges) -> None:
    """Active roster rows whose phone a member already bound: that member is staff from now on
    (a fan whose verified phone is on the active roster is staff)."""
    unlinked = {p.phone: p for p in db.scalars(select(Staff).where(Staff.active, Staff.member_id.is_(None)))}
    phones = list(unlinked)
    for start in range(0, len(phones), 500):
        for member in db.scalars(select(Member).where(Member.phone.in_(phones[start:start + 500]))):
            unlinked[member.phone].member_id = member.id
            done.members.add(member.id)
    db.flush()


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

