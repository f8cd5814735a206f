"""CPU of one push in one process, in front of Flask and through it (`python -m bench.inprocess`).

    python -m bench.inprocess                   # 3,000 pushes a measure, 2 rounds
    python -m bench.inprocess --pushes 1000 --rounds 3

What the webhook's WSGI layer (bot/fast_webhook.py) saves, without gunicorn, wrk or a second
process in the figures: the real app (wsgi.py) on the benchmark's PostgreSQL and Redis
(bench/servers.py), its WSGI callable called directly with pre-built environs of safe-mode texts
from known fans (each greeted once first), `time.process_time()` around each batch. Two kinds of
push, each through the layer (`app.wsgi_app`) and through Flask alone (`app.wsgi_app.inner`),
alternated in every round so both meet the same machine:
- common: on time, a known fan's text answered with the fallback (2 Redis scripts, 1 INSERT);
- late: DEFER_AFTER_S set to 0, so each push is acknowledged and handed off (1 Redis script).
Prints ms of CPU a push and the layer's ratio to Flask's. The VM this was written on varies by
up to 1.6x between runs: the ratios within one run are the figures. The late pushes are left in
the stream without a finisher and removed at the end, with every other trace of the run.
"""
import argparse
import os
import time
from pathlib import Path

from bench import pushes
from bench.servers import OUT, Store, app_env, prepare_service

FIRST_MSG_ID = 8_600_000_000_000_000_000


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__.split("\n")[0])
    p.add_argument("--pushes", type=int, default=3000, help="pushes a measure (3000)")
    p.add_argument("--rounds", type=int, default=2, help="rounds of the four measures (2)")
    return p.parse_args(argv)


def environs(path: Path, count: int, first_msg_id: int) -> list[dict]:
    from werkzeug.test import EnvironBuilder
    pushes.write_pushes(path, "safe", count, first_msg_id)
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        target, body = line.split("\t")
        url, query = target.split("?", 1)
        out.append(EnvironBuilder(path=url, query_string=query, method="POST", data=body.encode()).get_environ())
    return out


def cpu_ms(call, batch: list[dict]) -> float:
    def start_response(status, headers, exc_info=None):
        assert status.startswith("200"), status
    started = time.process_time()
    for environ in batch:
        b"".join(call(environ, start_response))
    return (time.process_time() - started) / len(batch) * 1000


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.update(app_env())
    OUT.mkdir(exist_ok=True)
    prepare_service()
    store = Store()
    store.reset()
    from wsgi import app
    greeting = environs(OUT / "inprocess-greeting.txt", min(args.pushes, pushes.FANS), FIRST_MSG_ID)
    cpu_ms(app.wsgi_app, greeting)        # every fan known, the scripts loaded, the copy read
    paths = {"layer": app.wsgi_app, "flask": app.wsgi_app.inner}
    figures: dict[tuple[str, str], list[float]] = {}
    next_id = FIRST_MSG_ID + 10**6
    try:
        for _ in range(args.rounds):
            for kind, defer_after in (("common", app.config["DEFER_AFTER_S"]), ("late", 0.0)):
                on_time, app.config["DEFER_AFTER_S"] = app.config["DEFER_AFTER_S"], defer_after
                try:
                    for name, call in paths.items():
                        batch = environs(OUT / "inprocess-pushes.txt", min(args.pushes, pushes.FANS), next_id)
                        next_id += 10**6
                        figures.setdefault((kind, name), []).append(cpu_ms(call, batch))
                finally:
                    app.config["DEFER_AFTER_S"] = on_time
    finally:
        store.reset()
    print(f"\nms of CPU a push, {args.pushes} pushes a measure, {args.rounds} rounds (each round's figure)")
    for kind in ("common", "late"):
        layer, flask = figures[(kind, "layer")], figures[(kind, "flask")]
        ratios = ", ".join(f"{a / b:.2f}x" for a, b in zip(layer, flask))
        print(f"  {kind:6s}  through Flask {', '.join(f'{v:.3f}' for v in flask)}   "
              f"in front of it {', '.join(f'{v:.3f}' for v in layer)}   layer/Flask {ratios}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
