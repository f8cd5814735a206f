"""`flask --app wsgi serve`: the embedded mode's whole service in one command (`make run`).

The web server, plus the rq worker and the cron scheduler as children it owns (bot/embedded.py),
all on the checkout's shared Redis, so the embedded mode runs jobs as production does. SIGTERM
or Ctrl-C stops the children, then the server; the last process leaving the Redis saves it.
"""
import signal
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

from bot.embedded import Children
from bot.logs import set_verbose


@click.command("serve", help="Serve the webhook with its own rq worker and cron scheduler.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, type=int, show_default=True)
@click.option("--no-worker", is_flag=True, help="Serve only (workers run elsewhere).")
@click.option("-v", "--verbose", is_flag=True, help="INFO log lines on the terminal too.")
@with_appcontext
def serve(host, port, no_worker, verbose):
    app = current_app._get_current_object()
    set_verbose(verbose)
    inline = app.config["JOBS_INLINE"]
    children = None if (no_worker or inline) else Children(Path(app.instance_path)).start()

    def stop(signum, frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    base = f"http://{host}:{port}"
    click.echo(f"serving {base}/wechat/<account>"
               + (f", the sandbox in a browser at {base}/sandbox/" if app.config["SANDBOX"] else ""))
    if children is not None:
        worker, cron = children.pids()
        click.echo(f"rq worker (pid {worker}) and cron scheduler (pid {cron}) running; "
                   "logs in instance/log/. Ctrl-C stops all.")
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        if children is not None:
            children.stop()
