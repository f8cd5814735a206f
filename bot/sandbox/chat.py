"""`flask --app wsgi sandbox chat`: chat with the bot as a person on a phone, no WeChat needed.

What you type is sent as a signed text push; commands play the other things a phone does.
Each passive reply is shown, then every message the bot pushed to that person through the
sandbox's WeChat API (customer-service and template messages). It runs the webhook in this
process; with --url it posts to a running service instead (its sandbox must be on).
"""
import shlex
import sys

import click
import requests
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from bot.sandbox.phone import MODES, Phone, sandbox_openid
from bot.sandbox.state import SandboxWeChat
from bot.sms import sent_texts

HELP = """commands:
  any text                 send it as a text message
  /follow [SCENE]          follow (through a QR code with SCENE)
  /scan SCENE              scan a QR code while following
  /click KEY               tap a menu button
  /unfollow                unfollow
  /location LAT LNG        send a location
  /help, /quit"""


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
def chat(slug, name, aes, mode, script, url):
    from models import Account

    ext = current_app.extensions
    with ext["db"]() as db:
        account = db.scalar(select(Account).where(Account.slug == slug))
    if account is None:
        raise click.ClickException(f"no account {slug} (make run creates `demo`)")
    mode = mode or ("safe" if aes else "plain")
    if mode != "plain" and not account.aes_key:
        raise click.ClickException(f"account {slug} has no EncodingAESKey")
    world = SandboxWeChat(ext["redis"], ext["clock"])
    world.register_account(account.appid, account.secret, account.type, account.verified, account.original_id or "")
    phone = Phone(_poster(url), account, sandbox_openid(slug, name), mode, world, ext["clock"])
    click.echo(f"sandbox chat: {name} ({phone.openid}) on {slug}, {mode} mode. /help for commands.")
    seen = len(world.messages_to(account.appid, phone.openid))
    texts_seen = len(sent_texts(ext["redis"]))
    lines = script if script is not None else _keyboard(name)
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if script is not None:
            click.echo(f"{name}> {line}")
        if line in ("/quit", "/exit"):
            break
        try:
            answer = _act(phone, line)
        except (ValueError, IndexError) as exc:
            click.echo(f"  ? {exc}. {HELP}")
            continue
        if answer is not None:
            click.echo(answer)
        pushed = world.messages_to(account.appid, phone.openid)
        for message in pushed[seen:]:
            label = "客服消息" if message["kind"] == "custom" else "模板消息"
            click.echo(f"  [{label}] {message.get('content') or message['payload']}")
        seen = len(pushed)
        texts = sent_texts(ext["redis"])     # the console SMS backend's outbox: codes to type in
        for sms in texts[texts_seen:]:
            click.echo(f"  [短信 {sms['phone']}] {sms['text']}")
        texts_seen = len(texts)


def _act(phone: Phone, line: str) -> str | None:
    """Do what the line says; the text to show, or None."""
    if not line.startswith("/"):
        return _show(phone, phone.text(line))
    words = shlex.split(line)
    command, args = words[0], words[1:]
    if command == "/help":
        return HELP
    if command == "/follow":
        return _show(phone, phone.follow(args[0] if args else None))
    if command == "/scan":
        return _show(phone, phone.scan(args[0]))
    if command == "/click":
        return _show(phone, phone.click(args[0]))
    if command == "/unfollow":
        return _show(phone, phone.unfollow())
    if command == "/location":
        return _show(phone, phone.location(float(args[0]), float(args[1])))
    raise ValueError(f"unknown command {command}")


def _show(phone: Phone, content: str | None) -> str:
    reply = phone.last
    if reply.status != 200:
        return f"  (HTTP {reply.status}: {reply.body.decode(errors='replace')})"
    if content is not None:
        return "  " + content.replace("\n", "\n  ")
    return f"  ({reply.type} reply)" if reply.type else "  (no reply)"


def _poster(url: str | None):
    if url:
        def post(path, query, body):
            response = requests.post(url.rstrip("/") + path, params=query, data=body, timeout=10)
            return response.status_code, response.content
        return post
    client = current_app.test_client()

    def post(path, query, body):
        response = client.post(path, query_string=query, data=body)
        return response.status_code, response.data
    return post


def _keyboard(name: str):
    while True:
        try:
            yield input(f"{name}> ")
        except EOFError:
            return
