"""Several workers (and the webhook) delivering to one person at the same moment: each message
leaves exactly once (DESIGN.md Outbound; row locks on PostgreSQL, BEGIN IMMEDIATE on SQLite)."""
from concurrency_support import at_once
from outbound_support import CUSTOM_SEND, bulky, custom_texts, deliver_now, states

from bot.outbound import SEPARATOR
from handlers.common import FALLBACK


def test_concurrent_delivery_runs_send_each_message_once(relay, phone, world, jobs):
    """§4.7 budgets are small: two or more jobs for one person never send a message twice."""
    alice, bob = phone("alice"), phone("bob")
    bob.text("在吗")
    texts = [bulky(f"第{n}件事") for n in range(1, 4)]
    for text in texts:
        alice.text(f"告诉 bob {text}")

    at_once([lambda: deliver_now(relay, bob)] * 4)
    jobs.run_all()

    assert custom_texts(world, bob) == texts
    assert len(world.calls(CUSTOM_SEND)) == 3
    assert states(relay, bob) == [("sent", "custom")] * 3
    assert world.cs_window(bob.account.appid, bob.openid)["msg_used"] == 3


def test_delivery_job_racing_the_persons_own_reply_sends_each_message_once(relay, phone, world,
                                                                          jobs):
    """DESIGN.md Outbound: a message goes either in bob's passive reply or as a CS message,
    never both, whichever of the job and bob's new message gets to it first."""
    alice, bob = phone("alice"), phone("bob")
    bob.text("在吗")
    texts = [bulky(f"第{n}件事") for n in range(1, 4)]
    for text in texts:
        alice.text(f"告诉 bob {text}")       # their delivery jobs stay queued for now

    reply, _ = at_once([lambda: bob.text("好的"), lambda: deliver_now(relay, bob)])
    jobs.run_all()

    passive = reply.split(SEPARATOR)
    assert passive[-1] == FALLBACK
    delivered = passive[:-1] + custom_texts(world, bob)
    assert sorted(delivered) == sorted(texts)
    assert custom_texts(world, bob) == [t for t in texts if t not in passive]
    assert [status for status, _ in states(relay, bob)] == ["sent"] * 3
