"""The members export in constant memory: 10,000 and then 100,000 members, each streamed to a
CSV file through the same code as `admin export members` and GET /admin/api/v1/members.csv,
with Python's peak allocation (tracemalloc) and the process's peak RSS per run.

    .venv/bin/python -m bench.export                    # SQLite in a temporary directory
    .venv/bin/python -m bench.export --database-url postgresql://postgres@127.0.0.1/bench_export

Constant memory means the peak for 100,000 rows is about the peak for 10,000 (one yield_per
batch, not the whole listing).
"""
import argparse
import os
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

from sqlalchemy import create_engine, insert, text

from bot.admin.cli import export_csv
from bot.admin.listings import LISTINGS
from bot.scope import SERVER, Scope
from models import Company, Member, Store
from models.db import make_sessionmaker
from models.migrate import upgrade


def seed(engine, total: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM member"))
        for start in range(0, total, 5000):
            conn.execute(insert(Member), [
                {"phone": f"139{n:08d}", "name": f"会员{n}", "points": n % 1000, "growth": n % 5000,
                 "level": "silver", "home_store_id": 1 + n % 2, "imported": False}
                for n in range(start, min(total, start + 5000))])


def measure(engine, scope: Scope, out: Path) -> tuple[int, float, float, float]:
    sessions = make_sessionmaker(engine)
    tracemalloc.start()
    began = time.perf_counter()
    with sessions() as db, open(out, "w", newline="", encoding="utf-8") as target:
        rows = export_csv(db, LISTINGS["members"], scope, {}, target)
    seconds = time.perf_counter() - began
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return rows, peak / 2**20, rss_mb, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    engine = create_engine(args.database_url or f"sqlite:///{work / 'bench.sqlite3'}")
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(Company), [{"code": "C1", "name": "公司"}])
        conn.execute(insert(Store), [{"code": "S1", "name": "门店1", "company_id": 1},
                                     {"code": "S2", "name": "门店2", "company_id": 1}])
    store_manager = Scope("operator:bench", "store", frozenset({1}))
    print(f"database: {engine.dialect.name}")
    for total in (10_000, 100_000):
        seed(engine, total)
        for label, scope in (("hq", SERVER), ("store S1", store_manager)):
            out = work / f"members-{total}-{label.replace(' ', '')}.csv"
            rows, peak, rss, seconds = measure(engine, scope, out)
            print(f"{total:>7,} members, {label:<8}: {rows:>7,} rows, {os.path.getsize(out) / 2**20:5.1f} MB CSV, "
                  f"python peak {peak:5.2f} MB, process peak RSS {rss:6.1f} MB, {seconds:5.2f} s")
    engine.dispose()


if __name__ == "__main__":
    main()
