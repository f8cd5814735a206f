"""The organisation's CSV files (bot/org/roster.py, bot/org/legacy.py): their columns and limits,
reading them, and reporting bad rows.

Every import reads the whole file first and reports each bad row with its line number; nothing is
written unless the file is valid, or `--skip-bad` is given (DESIGN.md, operator contract).
Files are UTF-8 (Excel's BOM accepted); column names are matched without case or surrounding
spaces; an empty cell of an optional column takes the column's default. Excel's empty trailing
cells and unnamed empty columns are ignored; a value outside the named columns is a bad row.
"""
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import click


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
MAX_CAPACITY, MAX_POINTS = 10_000, 1_000_000_000
BATCH = 100                                      # legacy members created per transaction

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
        # Columns with no name (Excel's trailing commas) are allowed while their cells are empty.
        unknown = [c for c in header if c and c not in required + optional]
        twice = sorted({c for c in header if c and header.count(c) > 1})
        for problem, names in (("missing columns", missing), ("unknown columns", unknown),
                               ("columns given twice", twice)):
            if names:
                raise click.ClickException(f"{path}:1: {problem} {', '.join(names)} "
                                           f"(expected {expected})")
        rows, bad = [], []
        for fields in reader:
            if not any(value.strip() for value in fields):
                continue                                          # a blank line
            while len(fields) > len(header) and not fields[-1].strip():
                fields.pop()                                      # empty cells past the last column
            fields += [""] * (len(header) - len(fields))
            cells = list(zip(header, (value.strip() for value in fields)))
            if len(fields) > len(header) or any(value for name, value in cells if not name):
                bad.append((reader.line_num, "more fields than columns"))
                continue
            rows.append((reader.line_num, {name: value for name, value in cells if name}))
    except csv.Error as exc:
        raise click.ClickException(f"{path}:{reader.line_num}: not readable as CSV ({exc})")
    return Sheet(rows, bad)


def report(path: Path, bad: Problems, skip_bad: bool) -> None:
    """Print the bad rows; stop before writing anything unless `--skip-bad`."""
    for number, message in sorted(bad):
        click.echo(f"{path}:{number}: {message}", err=True)
    if bad and not skip_bad:
        raise click.ClickException(f"{len(bad)} bad rows; nothing imported (fix them, or --skip-bad)")


def flag(value: str, default: bool) -> bool | None:
    if not value:
        return default
    lowered = value.lower()
    return True if lowered in YES else False if lowered in NO else None


def cell(values: dict, column: str, limit: int, required: bool = True) -> str | None:
    """The cell, or None when it is empty (and required) or too long."""
    value = values.get(column, "")
    return None if (required and not value) or len(value) > limit else value

