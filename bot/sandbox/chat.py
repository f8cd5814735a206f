"""`flask --app wsgi sandbox chat`: chat with the bot as a person on a phone, no WeChat needed.

What you type is sent as a signed text push; commands play the other things a phone does. The
passive reply is shown at once; customer-service messages, template notices and SMS are shown
the moment they are sent (bot/sandbox/outbox.py watches the shared sandbox), whoever sent them:
an agent in another chat, a CLI command, a job of `make run`'s worker. It runs the webhook in
this process (and, if no rq worker is running, one of its own); with --url it posts to a
running service instead. Both share the checkout's Redis in the embedded mode.
"""
import sys
import threading
from pathlib import Path

import click
import requests
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from bot.logs import set_verbose
from bot.sandbox.chat_actions import ChatError, act, settle
from bot.sandbox.outbox import Watch
from bot.sandbox.phone import MODES, Phone, sandbox_openid
from bot.sandbox.state import SandboxWeChat

WATCH_INTERVAL_S = 0.2


@click.group("sandbox", help="The local stand-in for WeChat.", cls=AppGroup)
def sandbox_cli():
    pass


@sandbox_cli.command("chat")
@click.option("--account", "slug", required=True, help="Account slug, e.g. demo.")
@click.option("--as", "name", required=True, help="Who you are: any name, e.g. alice.")
@click.option("--aes", is_flag=True, help="Encrypted pushes (safe mode).")
@click.option("--mode", type=click.Choice(MODES), help="plain, compat or safe (default plain).")
@click.option("--script", type=click.File("r"), help="Run these lines instead of reading the keyboard.")
@click.option("--url", help="Post to a running service (e.g. http://127.0.0.1:5000) instead.")
@click.option("-v", "--verbose", is_flag=True, help="Show INFO log lines too.")
def chat(slug, name, aes, mode, script, url, verbose):
    from models import Account

    set_verbose(verbose)
    app = current_app._get_current_object()
    ext = app.extensions
    with ext["db"]() as db:
        account = db.scalar(select(Account).where(Account.slug == slug))
    if account is None:
        raise click.ClickException(f"no account {slug} (make run creates `demo`)")
    mode = mode or ("safe" if aes else "plain")
    if mode != "plain" and not account.aes_key:
        raise click.ClickException(f"account {slug} has no EncodingAESKey")
    if url:
        _check_reachable(url, slug)
    world = SandboxWeChat(ext["redis"], ext["clock"])
    world.register_account(account.appid, account.secret, account.type, account.verified, account.original_id or "")
    phone = Phone(_poster(url), account, sandbox_openid(slug, name), mode, world, ext["clock"])
    watch = Watch(world, account.appid, phone.openid, Path(app.instance_path) / "sandbox")
    children = None if url else _own_worker(app)
    click.echo(f"sandbox chat: {name} ({phone.openid}) on {slug}, {mode} mode. /help for commands.")
    try:
        if script is not None:
            _run_script(app, phone, watch, name, script)
        else:
            _run_keyboard(phone, watch, name)
    finally:
        if children is not None:
            children.stop()


def _run_script(app, phone, watch, name, script) -> None:
    """Line by line; after each, wait until the jobs it started are done, then show arrivals."""
    for line in script:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        click.echo(f"{name}> {line}")
        if line in ("/quit", "/exit"):
            break
        _say(act(phone, watch, line))
        settle(app)
        for arrival in watch.new():
            click.echo(arrival.line())


def _run_keyboard(phone, watch, name) -> None:
    """Arrivals are printed by a watcher thread as they come, above the prompt."""
    printing = threading.Lock()
    stop = threading.Event()
    prompt = f"{name}> "

    def watcher():
        while not stop.wait(WATCH_INTERVAL_S):
            try:
                arrivals = watch.new()
            except Exception as exc:          # the service or Redis went away: say so once a while
                arrivals = []
                with printing:
                    click.echo(f"\r  ? cannot read the sandbox: {type(exc).__name__}")
                stop.wait(5)
            if arrivals:
                with printing:
                    sys.stdout.write("\r")
                    for arrival in arrivals:
                        click.echo(arrival.line())
                    sys.stdout.write(prompt)
                    sys.stdout.flush()

    thread = threading.Thread(target=watcher, name="chat-watcher", daemon=True)
    thread.start()
    try:
        while True:
            try:
                line = input(prompt).strip()
            except EOFError:
                break
            if line in ("/quit", "/exit"):
                break
            if not line or line.startswith("#"):
                continue
            shown = act(phone, watch, line)
            with printing:
                _say(shown)
    finally:
        stop.set()
        thread.join(1)
        for arrival in watch.new():          # what came while the last line was answered
            click.echo(arrival.line())


def _say(shown: str | None) -> None:
    if shown is not None:
        click.echo(shown)


def _check_reachable(url: str, slug: str) -> None:
    try:
        requests.get(url.rstrip("/") + f"/wechat/{slug}", timeout=3)
    except requests.RequestException:
        raise click.ClickException(f"nothing answers at {url}: start the service (make run) or leave out --url")


def _own_worker(app):
    """The in-process webhook queues jobs to rq: start a worker unless one is running already."""
    if app.config["JOBS_INLINE"] or app.config.get("REDIS") is not None:
        return None          # inline jobs, or a test's own Redis (its jobs are run by the test)
    from bot.embedded import Children, live_workers
    if live_workers(app.extensions["redis"]):
        return None
    return Children(Path(app.instance_path), cron=False).start()


def _poster(url: str | None):
    if url:
        base = url.rstrip("/")

        def post(path, query, body):
            try:
                response = requests.post(base + path, params=query, data=body, timeout=10)
            except requests.RequestException:
                raise ChatError(f"nothing answers at {url} now; start it again (make run)") from None
            return response.status_code, response.content
        return post
    client = current_app.test_client()

    def post(path, query, body):
        response = client.post(path, query_string=query, data=body)
        return response.status_code, response.data
    return post


