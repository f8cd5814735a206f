"""What the outbound tests share: a router through which one person messages another (the
`relay` fixture in conftest.py), and views of what reached a person and what still waits for
them (bot/outbound.py has the policy)."""
import re

from sqlalchemy import select

from bot.dispatch import Router, text_of
from bot.protocol import kind
from bot.sandbox.phone import sandbox_openid
from models import OutboundMessage

CUSTOM_SEND = "/cgi-bin/message/custom/send"
TEMPLATE_SEND = "/cgi-bin/message/template/send"
RELAYED = "已转告"
_RELAY = re.compile(r"告诉 (\w+) (.+)", re.S)
# "长文 N": an answer of N lines, each "第 i 行" padded to 40 characters (ASCII, 41 bytes with \n).
_LONG = re.compile(r"长文 (\d+)")


def long_answer(lines: int) -> str:
    return "\n".join(f"第 {i} 行".ljust(40, ".") for i in range(1, lines + 1))


def relay_router() -> Router:
    """`告诉 bob X` → X for bob, through ctx.tell; `长文 N` → a long answer for the sender."""
    router = Router("relay")

    @router.on(lambda msg: kind(msg) == "text" and _RELAY.fullmatch(text_of(msg)) is not None)
    def relay(ctx, msg):
        name, text = _RELAY.fullmatch(text_of(msg)).groups()
        ctx.tell(sandbox_openid(ctx.account.slug, name), text)
        return RELAYED

    @router.on(lambda msg: kind(msg) == "text" and _LONG.fullmatch(text_of(msg)) is not None)
    def long(ctx, msg):
        return long_answer(int(_LONG.fullmatch(text_of(msg)).group(1)))

    return router


def bulky(label: str) -> str:
    """A text over half the 2048-byte limit, so two of them never merge into one message."""
    return label + " " + "长" * 400          # 1 200+ bytes in UTF-8


def received(world, person, kind_: str | None = None) -> list[dict]:
    """What reached a person's phone outside passive replies (custom or template)."""
    inbox = world.messages_to(person.account.appid, person.openid)
    return [m for m in inbox if kind_ is None or m["kind"] == kind_]


def custom_texts(world, person) -> list[str]:
    return [m["content"] for m in received(world, person, "custom")]


def notices(world, person) -> list[str]:
    """The "N 条新消息" value of each template notice the person got."""
    return [m["payload"]["data"]["count"]["value"] for m in received(world, person, "template")]


def rows_for(app, person) -> list[OutboundMessage]:
    """Every outbound row for a person, oldest first, read fresh."""
    with app.extensions["db"]() as db:
        query = (select(OutboundMessage).where(OutboundMessage.openid == person.openid)
                 .order_by(OutboundMessage.id))
        return list(db.scalars(query))


def states(app, person) -> list[tuple[str, str | None]]:
    return [(row.status, row.channel) for row in rows_for(app, person)]


def deliver_now(app, person) -> None:
    """Run the delivery job directly, as a worker would (a second run must change nothing)."""
    from workers.messaging import deliver_pending
    with app.app_context():
        deliver_pending(person.account.id, person.openid)


def run_due_retries(jobs) -> int:
    """Move jobs rq scheduled for a retry back onto their queue, as rq's scheduler does once
    the backoff is over (it reads the wall clock, not the test clock); how many moved."""
    moved = 0
    for queue in jobs.queues:
        registry = queue.scheduled_job_registry
        for job_id in registry.get_job_ids():
            job = queue.fetch_job(job_id)
            registry.remove(job)
            queue.enqueue_job(job)
            moved += 1
    return moved
