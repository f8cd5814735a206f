"""The outbound policy: how every message the bot owes a person leaves (DESIGN.md, Outbound).

1. The person being answered right now: the passive reply (WeChat allows one per push, ≤5 s).
2. Anyone else: stored pending, then a job sends a customer-service message while that
   person's window is open and has budget (5 / 48 h after a message; 3 / 1 min after a
   click, follow or scan: WECHAT-PLATFORM.md §4.7).
3. No window or no budget (or WeChat says 45015/45047): one template notice where the account
   may send templates (verified service accounts, §4.8).
4. Otherwise it stays pending and rides along with that person's next passive reply.
Nothing is dropped: a row stays PENDING until a channel took it.

Images and voice (a poster, a chart, a relayed fan's photo) travel by media id as
customer-service messages, one each, in order with the texts around them: a passive reply is
one message (§3.4), so texts queued behind a media message wait for it rather than overtake it.
Temporary media live 3 days (§3.4); one older than that is delivered as a text saying so.
"""
import json
import logging
from datetime import datetime

from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import keys
from bot.capabilities import Cap, for_account
from bot.protocol import PERSON_MESSAGES, TEXT_LIMIT_BYTES, split_text
from models import Account, Fan, Member, OutboundMessage
from models.outbound import NEWS, PENDING, SENT, TEXT, UNREACHABLE

log = logging.getLogger(__name__)

# §4.7: what opens which window. Only click-type menu events count (not view).
MESSAGE_KINDS = PERSON_MESSAGES | {"unknown:file", "miniprogrampage"}
EVENT_KINDS = frozenset({"click", "scancode_push", "scancode_waitmsg", "subscribe",
                         "subscribe_scan", "scan"})
# Replies to these are not shown to anyone (§2, §7.10); what waits for the person stays pending.
SILENT_KINDS = frozenset({"unsubscribe", "view", "location_report", "templatesendjobfinish",
                          "masssendjobfinish", "kf_create_session", "kf_close_session",
                          "kf_switch_session"})
WINDOWS = {"msg": (5, 48 * 3600), "evt": (3, 60)}   # name: (messages allowed, seconds)
SEPARATOR = "\n\n"


class CsWindow:
    """Our copy of WeChat's customer-service windows for one person, shared by all processes."""

    def __init__(self, redis: Redis, account: str, openid: str):
        self.redis = redis
        self.key = keys.cs_window(account, openid)

    def opened_by(self, push_kind: str, now: float) -> None:
        """A push from this person (re)opens a window with a fresh budget."""
        name = "msg" if push_kind in MESSAGE_KINDS else "evt" if push_kind in EVENT_KINDS else None
        if name is None:
            return
        pipe = self.redis.pipeline()
        pipe.hset(self.key, mapping={f"{name}_until": now + WINDOWS[name][1], f"{name}_used": 0})
        pipe.expire(self.key, keys.CS_WINDOW_TTL)
        pipe.execute()

    def take(self, now: float) -> str | None:
        """Use one message of budget (the short event window first): the window it came from,
        or None when none is left."""
        def attempt(pipe) -> str | None:
            state = {k.decode(): float(v) for k, v in pipe.hgetall(self.key).items()}
            for name in ("evt", "msg"):
                limit, _ = WINDOWS[name]
                if state.get(f"{name}_until", 0) > now and state.get(f"{name}_used", 0) < limit:
                    pipe.multi()
                    pipe.hincrby(self.key, f"{name}_used", 1)
                    return name
            return None
        return self.redis.transaction(attempt, self.key, value_from_callable=True)

    def give_back(self, name: str) -> None:
        """WeChat was busy (-1) and sent nothing: the message did not use the budget."""
        self.redis.hincrby(self.key, f"{name}_used", -1)

    def close(self) -> None:
        """WeChat said 45015 (window closed, or the person unfollowed)."""
        self.redis.hset(self.key, mapping={"msg_until": 0, "evt_until": 0})

    def exhaust(self) -> None:
        """WeChat said 45047 (budget used up): trust WeChat over our count."""
        self.redis.hset(self.key, mapping={f"{n}_used": lim for n, (lim, _) in WINDOWS.items()})


class Outbox:
    """Bound to one push. A text for its sender joins the passive reply, unless something
    already waits for them as a pending row (a media message, a text from before): then it
    queues behind it, so nothing overtakes what was said first. Everything else is pending."""

    def __init__(self, db: Session, account: Account, enqueue, now: datetime, recipient: str | None,
                 nothing_waiting: bool = False):
        self.db, self.account, self.enqueue, self.now = db, account, enqueue, now
        self.recipient = recipient
        self.passive: list[str] = []
        # `nothing_waiting`: the sender's checked facts say no pending row waits for them
        # (bot/facts.py), so neither their texts nor the passive reply need ask the database.
        self._checked_quiet = nothing_waiting
        self._sender_waits: bool | None = False if nothing_waiting else None   # asked once

    def send(self, openid: str, text: str) -> None:
        if openid == self.recipient and not self.sender_waits():
            self.passive.append(text)
        else:
            self.queue(openid, [text])

    def send_media(self, openid: str, msg_type: str, media_id: str, caption: str) -> None:
        """An image or voice for anyone, the sender included: pending, out by the next channel."""
        queue_media(self.db, self.enqueue, self.account.id, openid, msg_type, media_id, caption, self.now)
        if openid == self.recipient:
            self._sender_waits = True

    def queue(self, openid: str, texts: list[str]) -> None:
        """Store texts (each piece within the length limit) as pending for `openid`; a job delivers them."""
        queue_texts(self.db, self.enqueue, self.account.id, openid, texts, self.now)
        if openid == self.recipient:
            self._sender_waits = True

    def sender_waits(self) -> bool:
        if self._sender_waits is None:
            self._sender_waits = self.db.scalar(select(OutboundMessage.id).where(
                OutboundMessage.account_id == self.account.id, OutboundMessage.openid == self.recipient,
                OutboundMessage.status == PENDING).limit(1)) is not None
        return self._sender_waits

    def may_have_waiting(self) -> bool:
        """Whether something may wait for the sender: unless the facts said no and this push
        queued nothing for them, the passive reply looks (pending_for)."""
        return not self._checked_quiet or bool(self._sender_waits)

def settle_reply(db: Session, outbox: Outbox, push_kind: str, turn, in_time: bool,
                 postscript: str | None = None, answered: bool = False) -> str | None:
    """The text of the passive reply to this push (None: no text). Nobody sees a reply to a
    SILENT_KINDS push, and a kf transfer or a news card is the reply itself (§3.4: one reply, no
    text): then what the push meant for its sender waits as pending rows and leaves as
    customer-service messages (the card too, once the push was `answered`). So does the answer to a push WeChat has had its empty answer to
    already (`answered`: finished by a worker, bot/overload.py), in the window the push opened
    (§4.7). Messages that waited count as delivered only in a reply WeChat can still take
    (`in_time`, §2: 5 s); past the budget they stay pending for the next channel.
    `postscript` (Ctx.postscript) goes at the end of a text reply, after the answer."""
    card = turn.transfer is not None or turn.news is not None
    if card or push_kind in SILENT_KINDS:
        texts = outbox.passive + ([turn.reply] if turn.reply and card else [])
        if texts:
            outbox.queue(outbox.recipient, texts)
        if answered and turn.news is not None:
            # No passive reply can carry the card any more. (A kf transfer needs none: its job
            # calls kfsession/create, bot/cs/kf.py.) Without customer-service messages (§5.1)
            # it waits for the next passive reply, which carries texts only: then it is a text.
            if for_account(outbox.account).allows(Cap.CUSTOM_MESSAGE):
                queue_news(db, outbox.enqueue, outbox.account.id, outbox.recipient, turn.news, outbox.now)
            else:
                outbox.queue(outbox.recipient, [f"{turn.news.title}：{turn.news.url}"])
        return None
    answer = f"{turn.reply}\n\n{postscript}" if turn.reply and postscript else turn.reply
    if answered:
        texts = outbox.passive + ([answer] if answer else [])
        if texts:
            outbox.queue(outbox.recipient, texts)
        enqueue_delivery(outbox.enqueue, outbox.account.id, outbox.recipient)   # what waited, too
        return None
    return compose_passive(db, outbox, answer, take_waiting=in_time)


def record_unreachable(db: Session, member: Member, what: str, now: datetime, reason: str,
                       msg_type: str = TEXT, media_id: str | None = None) -> None:
    """A notice for a member nobody can carry: kept as an UNREACHABLE row with why (on their
    last follower row, if they ever had one), never only a log line."""
    last = db.scalar(select(Fan).where(Fan.member_id == member.id)
                     .order_by(Fan.followed_at.desc(), Fan.id.desc()).limit(1))
    db.add(OutboundMessage(account_id=last.account_id if last else None, openid=last.openid if last else None,
                           member_id=member.id, content=what, msg_type=msg_type, media_id=media_id,
                           status=UNREACHABLE, reason=reason[:255], created_at=now))
    db.flush()
    log.info("notice not sent: member %s, %s (kept as unreachable)", member.id, reason)


def queue_texts(db: Session, enqueue, account_id: int, openid: str, texts: list[str],
                now: datetime) -> None:
    """Keep texts pending for (account, openid), each piece within the length limit, and ask
    for their delivery: how jobs and APIs, which answer no push, tell someone something."""
    for text in (piece for t in texts for piece in split_text(t)):
        db.add(OutboundMessage(account_id=account_id, openid=openid, content=text, created_at=now))
    db.flush()
    enqueue_delivery(enqueue, account_id, openid)


def queue_news(db: Session, enqueue, account_id: int, openid: str, article, now: datetime) -> None:
    """Keep a news card (bot.protocol.Article) pending for (account, openid), and ask for its
    delivery: the card of a push whose passive reply is gone (finished by a worker) leaves as
    a customer-service news message of one article (§4.7)."""
    content = json.dumps({"title": article.title, "description": article.description, "url": article.url,
                          "picurl": article.pic_url}, ensure_ascii=False)
    db.add(OutboundMessage(account_id=account_id, openid=openid, content=content, msg_type=NEWS, created_at=now))
    db.flush()
    enqueue_delivery(enqueue, account_id, openid)


def queue_media(db: Session, enqueue, account_id: int, openid: str, msg_type: str, media_id: str,
                caption: str, now: datetime) -> None:
    """Keep an image or voice (by WeChat media id) pending for (account, openid), and ask for its
    delivery. `caption` says what it is, for transcripts and if the media expires unsent."""
    db.add(OutboundMessage(account_id=account_id, openid=openid, content=caption, msg_type=msg_type,
                           media_id=media_id, created_at=now))
    db.flush()
    enqueue_delivery(enqueue, account_id, openid)


def enqueue_delivery(enqueue, account_id: int, openid: str) -> None:
    """Ask for a delivery job for what waits for `openid` (safe to ask twice)."""
    # `high`: a follow/click/scan window lasts one minute (§4.7); rq retries with backoff (-1).
    enqueue("workers.messaging.deliver_pending", account_id, openid, queue="high",
            retry=(5, 15, 60))


def pending_for(db: Session, account_id: int, openid: str) -> list[OutboundMessage]:
    """This person's undelivered messages, oldest first, locked against a concurrent sender."""
    waiting = (OutboundMessage.account_id == account_id, OutboundMessage.openid == openid,
               OutboundMessage.status == PENDING)
    # Almost every push finds nothing waiting: probe the index first, lock rows only if any.
    if db.scalar(select(OutboundMessage.id).where(*waiting).limit(1)) is None:
        return []
    query = select(OutboundMessage).where(*waiting).order_by(OutboundMessage.id)
    return list(db.scalars(query.with_for_update(skip_locked=True)))


def merge(texts: list[str], limit: int = TEXT_LIMIT_BYTES) -> list[list[int]]:
    """Group consecutive texts (by index) into messages of at most `limit` bytes, in order."""
    groups: list[list[int]] = []
    size = limit + 1
    for i, text in enumerate(texts):
        extra = len(text.encode()) + (len(SEPARATOR.encode()) if groups and groups[-1] else 0)
        if groups and size + extra <= limit:
            groups[-1].append(i)
            size += extra
        else:
            groups.append([i])
            size = len(text.encode())
    return groups


def batches(rows: list[OutboundMessage]) -> list[list[OutboundMessage]]:
    """Rows as the messages they leave in, in order: runs of texts merged (see merge), each
    media row alone."""
    out: list[list[OutboundMessage]] = []
    run: list[OutboundMessage] = []
    for row in [*rows, None]:
        if row is not None and row.msg_type == TEXT:
            run.append(row)
            continue
        out.extend([run[i] for i in group] for group in merge([r.content for r in run]))
        run = []
        if row is not None:
            out.append([row])
    return out


def mark_sent(rows: list[OutboundMessage], channel: str, now: datetime) -> None:
    for row in rows:
        row.status, row.channel, row.delivered_at = SENT, channel, now


def compose_passive(db: Session, outbox: Outbox, reply: str | None, take_waiting: bool = True) -> str | None:
    """The passive reply for the person who just wrote: what waited for them (oldest first),
    what this push produced for them, then the handler's answer; what does not fit in one
    text goes pending (and out by the next channel that opens). `take_waiting=False` (the
    reply may come too late for WeChat): what waited stays pending, and a delivery job is
    asked for it, since this push opened their window."""
    probe = take_waiting and outbox.may_have_waiting()
    waiting = pending_for(db, outbox.account.id, outbox.recipient) if probe else []
    if not take_waiting:
        enqueue_delivery(outbox.enqueue, outbox.account.id, outbox.recipient)
    fresh = [t for t in [*outbox.passive, reply] if t]
    if not waiting and not fresh:
        return None
    # The newest answer must not be pushed out by older messages: it gets its room first (as
    # many of this push's texts as fit in one message), older ones fill what is left before it.
    pieces = [p for t in fresh for p in split_text(t)]
    first = merge(pieces)[0] if pieces else []
    answer = SEPARATOR.join(pieces[i] for i in first)
    used, sep = len(answer.encode()), len(SEPARATOR.encode())
    taken: list[OutboundMessage] = []
    for row in waiting:
        if row.msg_type != TEXT:
            break       # a media message goes first, by a customer-service message; texts keep order
        size = len(row.content.encode()) + (sep if answer or taken else 0)
        if used + size > TEXT_LIMIT_BYTES:
            break
        taken.append(row)
        used += size
    mark_sent(taken, "passive", outbox.now)
    if pieces[len(first):]:
        outbox.queue(outbox.recipient, pieces[len(first):])
    elif len(taken) < len(waiting):
        # This push (re)opened their window (§4.7): what did not fit may leave right away.
        enqueue_delivery(outbox.enqueue, outbox.account.id, outbox.recipient)
    return SEPARATOR.join([row.content for row in taken] + ([answer] if answer else []))
