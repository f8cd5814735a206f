"""`points import-purchases FILE`: orders in bulk, with the same rules as the API.

The whole file is checked first (every bad row reported with its line number); nothing is
written unless it is all valid, or `--skip-bad` is given. Then each order is recorded in its own
transaction behind a progress bar: an interrupted import is finished by running it again
(orders already recorded are recognised and skipped).
"""
import csv
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot import points
from bot.clock import CST
from bot.phones import mask_phone
from bot.points.purchases import (PurchaseError, find_member, parse_amount, parse_date, parse_time,
                                  record_purchase)
from models import Purchase

COLUMNS = ("order_id", "phone", "amount", "paid_at", "payment_method")   # and trip_end, optional


@dataclass
class Order:
    line: int
    order_id: str
    member_id: int
    amount_fen: int
    paid_at: datetime
    payment_method: str
    trip_end: date | None = None


def import_purchases(app: Flask, path: Path, skip_bad: bool) -> None:
    orders, bad, known = check(app, path)
    for number, message in bad:
        click.echo(f"{path}:{number}: {message}", err=True)
    if bad and not skip_bad:
        raise click.ClickException(f"{len(bad)} bad rows; nothing imported (fix them, or --skip-bad)")
    recorded = paid = replayed = 0
    with click.progressbar(orders, label=f"importing {len(orders)} orders") as bar:
        for order in bar:
            try:
                with points.transaction(app) as book:
                    outcome = record_purchase(book, order_id=order.order_id, member_id=order.member_id,
                                              amount_fen=order.amount_fen, paid_at=order.paid_at,
                                              payment_method=order.payment_method, source="import",
                                              trip_end=order.trip_end)
            except (PurchaseError, IntegrityError) as exc:   # changed since the check (the API, another import)
                message = exc.message if isinstance(exc, PurchaseError) else \
                    f"order {order.order_id} was recorded by another caller meanwhile"
                bad.append((order.line, message))
                click.echo(f"\n{path}:{order.line}: {message}", err=True)
                continue
            if outcome.replayed:
                replayed += 1
            else:
                recorded += 1
                paid += outcome.points
    click.echo(f"{recorded} orders recorded, {paid} points awarded; "
               f"{known + replayed} already recorded; {len(bad)} bad rows skipped")
    if bad and not skip_bad:      # rows that went bad while importing (changed by another caller)
        raise click.ClickException(f"{len(bad)} rows could not be recorded")


def check(app: Flask, path: Path) -> tuple[list[Order], list[tuple[int, str]], int]:
    """(orders to record, bad rows, rows already recorded identically)."""
    try:
        text = path.read_text(encoding="utf-8-sig")      # Excel writes a BOM
    except UnicodeDecodeError:
        raise click.ClickException(f"{path} is not UTF-8 text (save the CSV as UTF-8)")
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    missing = [c for c in COLUMNS if c not in header and not (c == "phone" and "openid" in header)]
    if missing:
        raise click.ClickException(f"{path}:1: missing columns {', '.join(missing)} "
                                   f"(expected {','.join(COLUMNS)}; openid may replace phone)")
    orders, bad, known, seen = [], [], 0, {}
    with app.extensions["db"]() as db:
        for row in reader:
            number = reader.line_num
            order, problem = _order(db, row, number)
            if problem is None and order.order_id in seen:
                problem = f"order {order.order_id} is also on line {seen[order.order_id]}"
            if problem is None:
                seen[order.order_id] = number
                problem, same = _against_recorded(db, order)
                known += same
                if same:
                    continue
            if problem:
                bad.append((number, problem))
            else:
                orders.append(order)
    return orders, bad, known


def _order(db, row: dict, number: int) -> tuple[Order | None, str | None]:
    if None in row:
        return None, "more fields than columns"
    order_id = (row.get("order_id") or "").strip()
    if not order_id or len(order_id) > 64:
        return None, "order_id is empty or longer than 64 characters"
    amount = parse_amount(row.get("amount"))
    if amount is None:
        return None, f"amount {row.get('amount')!r} is not an amount of yuan > 0 (at most 2 decimals)"
    paid_at = parse_time(row.get("paid_at"))
    if paid_at is None:
        return None, f"paid_at {row.get('paid_at')!r} is not a time like 2026-11-23 14:05:00"
    method = (row.get("payment_method") or "").strip()
    if not method or len(method) > 32:
        return None, "payment_method is empty or longer than 32 characters"
    who = mask_phone((row.get("phone") or "").strip()) if row.get("phone") else row.get("openid")
    member_id = find_member(db, phone=row.get("phone"), openid=row.get("openid"))
    if member_id is None:
        return None, f"no member for {who or 'an empty phone'}"
    trip_end = None
    if (row.get("trip_end") or "").strip():
        trip_end = parse_date(row["trip_end"])
        if trip_end is None or trip_end < paid_at.astimezone(CST).date():
            return None, f"trip_end {row['trip_end']!r} is not a date like 2027-07-14 on or after paid_at"
    return Order(number, order_id, member_id, amount, paid_at, method, trip_end), None


def _against_recorded(db, order: Order) -> tuple[str | None, bool]:
    found = db.scalar(select(Purchase).where(Purchase.order_id == order.order_id))
    if found is None:
        return None, False
    if (found.member_id, found.amount_fen, found.paid_at, found.payment_method, found.trip_end) == \
            (order.member_id, order.amount_fen, order.paid_at, order.payment_method, order.trip_end):
        return None, True
    return f"order {order.order_id} was already recorded with other details", False
