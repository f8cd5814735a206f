"""`flask --app wsgi cs ...`: conversations, transcripts and agents, for operators.

Without --as the server operator sees everything. With --as PHONE (a staff member) a manager
sees their store's conversations, an agent the ones they had, anyone else nothing. Phones are
masked in all output (bot/phones.py); times are China time.
"""
import re
from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import exists, or_, select

from bot import scope as scopes
from bot.clock import CST
from bot.commands.common import account_or_fail
from bot.cs.agents import agent_fan
from bot.cs.assign import open_counts
from bot.cs.labels import label
from bot.cs.lifecycle import close_conversation
from bot.jobs import committed
from bot.phones import mask_phone, normalize
from bot.telling import Teller
from models import Staff, Store
from models.cs import CLOSED, KF, RELAY, AgentState, Assignment, Conversation, CsMessage
from models.org import AGENT, MANAGER

NOT_ALLOWED = "not allowed"
# "prefix@公众号微信号", prefix up to 10 of [A-Za-z0-9_] (WECHAT-PLATFORM.md §4.10, kfaccount/add).
KF_ACCOUNT = re.compile(r"^[A-Za-z0-9_]{1,10}@[A-Za-z0-9_-]{1,30}$")
SENDERS = {"fan": "顾客", "agent": "客服", "system": "系统"}


@click.group("cs", help="Customer service: conversations, transcripts, agents.", cls=AppGroup)
def cs_cli():
    pass


def session():
    return current_app.extensions["db"]()


def when(at: datetime | None) -> str:
    return at.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S") if at else "-"


def viewer(db, phone: str | None) -> Staff | None:
    """The staff member asking (--as), or None for the server operator; refuses anyone else."""
    if phone is None:
        return None
    number = normalize(phone)
    staff = db.scalar(select(Staff).where(Staff.phone == number, Staff.active)) if number else None
    if staff is None or not {AGENT, MANAGER} & set(staff.role_list):
        raise click.ClickException(NOT_ALLOWED)
    return staff


def visible(staff: Staff | None):
    """The WHERE clause of what `staff` may see (None: everything)."""
    if staff is None:
        return True
    rules = []
    if MANAGER in staff.role_list:     # a manager's store: the one scope rule (bot/scope.py)
        rules.append(scopes.of_staff(staff).where(Conversation))
    if AGENT in staff.role_list:
        rules.append(Conversation.agent_id == staff.id)
        rules.append(exists().where(Assignment.conversation_id == Conversation.id, Assignment.agent_id == staff.id))
    return or_(*rules)


@cs_cli.command("list", help="Conversations, newest first.")
@click.option("--account", "slug", help="Only this account.")
@click.option("--store", "store_code", help="Only this store (code).")
@click.option("--open", "only_open", is_flag=True, help="Only open ones (waiting or assigned).")
@click.option("--as", "as_phone", help="Show what this staff member may see.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
def cs_list(slug, store_code, only_open, as_phone, limit):
    with session() as db:
        staff = viewer(db, as_phone)
        query = select(Conversation).where(visible(staff))
        if slug:
            query = query.where(Conversation.account_id == account_or_fail(db, slug).id)
        if store_code:
            store = db.scalar(select(Store).where(Store.code == store_code))
            if store is None:
                raise click.ClickException(f"no store {store_code}")
            query = query.where(Conversation.store_id == store.id)
        if only_open:
            query = query.where(Conversation.status != CLOSED)
        rows = db.scalars(query.order_by(Conversation.opened_at.desc(), Conversation.id.desc()).limit(limit)).all()
        if not rows:
            click.echo("no conversations")
        for c in rows:
            agent = db.get(Staff, c.agent_id) if c.agent_id else None
            click.echo(f"{label(db, c)}  {c.status:<8} {c.mode:<5} agent {agent.name if agent else '-'}  "
                       f"opened {when(c.opened_at)}"
                       + (f"  closed {when(c.closed_at)} by {c.closed_by}" if c.closed_at else "")
                       + (f"  rating {c.rating}" if c.rating else ""))


@cs_cli.command("transcript", help="One conversation: who had it and why, and every message.")
@click.argument("conversation_id", type=int)
@click.option("--as", "as_phone", help="Only if this staff member may see it.")
def cs_transcript(conversation_id, as_phone):
    with session() as db:
        staff = viewer(db, as_phone)
        c = db.scalar(select(Conversation).where(Conversation.id == conversation_id, visible(staff)))
        if c is None:
            raise click.ClickException(NOT_ALLOWED if staff else f"no conversation {conversation_id}")
        names = {s.id: s.name for s in db.scalars(select(Staff).where(Staff.id.in_(
            select(Assignment.agent_id).where(Assignment.conversation_id == c.id)) | Staff.id.in_(
            select(CsMessage.agent_id).where(CsMessage.conversation_id == c.id))))}
        click.echo(f"{label(db, c)}  {c.status} ({c.mode})  opened {when(c.opened_at)}"
                   + (f", closed {when(c.closed_at)} by {c.closed_by}" if c.closed_at else "")
                   + (f", rating {c.rating}" if c.rating else ""))
        click.echo("assignments:")
        for a in db.scalars(select(Assignment).where(Assignment.conversation_id == c.id).order_by(Assignment.id)):
            click.echo(f"  {when(a.at)} {a.kind:<11} {names.get(a.agent_id, '-'):<6} {mask_text(a.reason)}")
        click.echo("messages:")
        for m in db.scalars(select(CsMessage).where(CsMessage.conversation_id == c.id).order_by(CsMessage.id)):
            who = SENDERS.get(m.sender, m.sender)
            if m.sender == "agent" and m.agent_id in names:
                who += f" {names[m.agent_id]}"
            body = m.content if m.msg_type == "text" else f"[{m.msg_type} {m.media_id or ''}] {m.content}"
            click.echo(f"  {when(m.at)} {who}: {mask_text(body)}")


def mask_text(text: str) -> str:
    """Any mobile number inside free text is masked too (a fan may type theirs)."""
    return re.sub(r"(?<!\d)1[3-9]\d{9}(?!\d)", lambda m: mask_phone(m.group()), text or "")


@cs_cli.command("agents", help="The account's agents (who follow it): shift, load and capacity, kf account.")
@click.option("--account", "slug", required=True)
def cs_agents(slug):
    with session() as db:
        account = account_or_fail(db, slug)
        agents = [s for s in db.scalars(select(Staff).where(Staff.active, Staff.roles.contains(AGENT))
                                        .order_by(Staff.store_id, Staff.id))
                  if AGENT in s.role_list and agent_fan(db, account.id, s) is not None]
        loads = open_counts(db, [s.id for s in agents])
        on = set(db.scalars(select(AgentState.staff_id).where(AgentState.on_shift)))
        for s in agents:
            state = db.get(AgentState, s.id)
            store = db.get(Store, s.store_id)
            click.echo(f"{s.name:<8} {mask_phone(s.phone)}  {store.name if store else '-'}  "
                       f"{'on shift' if s.id in on else 'off shift'}  {loads.get(s.id, 0)}/{s.capacity}"
                       f"{'  default' if s.default_agent else ''}"
                       f"{'  kf ' + state.kf_account if state and state.kf_account else ''}")


@cs_cli.command("close", help="Close a conversation as the operator (both sides are told).")
@click.argument("conversation_id", type=int)
def cs_close(conversation_id):
    app = current_app._get_current_object()
    now = app.extensions["clock"].now()
    with committed(app) as (db, enqueue):
        c = db.get(Conversation, conversation_id)
        if c is None:
            raise click.ClickException(f"no conversation {conversation_id}")
        if c.status == CLOSED:
            raise click.ClickException(f"conversation {conversation_id} is closed already")
        close_conversation(db, c, now, "operator", Teller(db, enqueue, now).tell, enqueue)
    click.echo(f"conversation {conversation_id} closed")


@cs_cli.command("kf-account", help="Link an agent (by phone) to their WeChat kf account, or --clear it.")
@click.argument("phone")
@click.argument("kf_account", required=False)
@click.option("--clear", is_flag=True)
def cs_kf_account(phone, kf_account, clear):
    if not clear and not (kf_account and KF_ACCOUNT.match(kf_account)):
        raise click.BadParameter("prefix@wechat-id, prefix up to 10 of A-Z a-z 0-9 _ "
                                 "(WECHAT-PLATFORM.md §4.10)", param_hint="KF_ACCOUNT")
    app = current_app._get_current_object()
    with committed(app) as (db, _enqueue):
        number = normalize(phone)
        staff = db.scalar(select(Staff).where(Staff.phone == number)) if number else None
        if staff is None or AGENT not in staff.role_list:
            raise click.ClickException("no agent with that phone")
        state = db.get(AgentState, staff.id) or AgentState(staff_id=staff.id, on_shift=False)
        db.add(state)
        state.kf_account = None if clear else kf_account
    click.echo(f"{staff.name} {mask_phone(staff.phone)}: kf account {'cleared' if clear else kf_account}")


@cs_cli.command("mode", help="relay (agents answer through the bot) or kf (WeChat's kf system).")
@click.option("--account", "slug", required=True)
@click.argument("mode", type=click.Choice([RELAY, KF]))
def cs_mode(slug, mode):
    from bot.capabilities import Cap, for_account
    from bot.directory import forget
    app = current_app._get_current_object()
    with committed(app) as (db, _enqueue):
        account = account_or_fail(db, slug)
        if mode == KF and not for_account(account).allows(Cap.KF):
            raise click.ClickException("kf mode needs a verified service account (WECHAT-PLATFORM.md §4.10, §5.1)")
        account.cs_mode = mode
    forget(app.extensions["redis"], slug)
    click.echo(f"{slug}: customer service by {mode}")
