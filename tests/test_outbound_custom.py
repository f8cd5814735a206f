"""Messages for someone other than the person being answered: customer-service messages while
that person's window has budget (WECHAT-PLATFORM.md §4.7), sent exactly once."""
from outbound_support import CUSTOM_SEND, RELAYED, bulky, custom_texts, deliver_now, notices, states

from handlers.common import FALLBACK


def test_message_for_someone_who_wrote_goes_out_as_a_customer_service_message(relay, phone, world, jobs):
    """§4.7: a user message opens 5 messages / 48 h; a message for bob leaves as a CS message."""
    alice, bob = phone("alice"), phone("bob")
    assert bob.text("在吗") == FALLBACK
    assert alice.text("告诉 bob 晚上七点开会") == RELAYED
    assert jobs.queued() == ["workers.messaging.deliver_pending"]

    jobs.run_all()

    assert custom_texts(world, bob) == ["晚上七点开会"]
    assert states(relay, bob) == [("sent", "custom")]
    assert notices(world, bob) == []
    assert custom_texts(world, alice) == []


def test_delivery_job_run_twice_sends_once(relay, phone, world, jobs):
    """DESIGN.md Outbound: jobs are safe to run twice; a SENT row never goes out again."""
    alice, bob = phone("alice"), phone("bob")
    bob.text("在吗")
    alice.text("告诉 bob 晚上七点开会")
    relay.extensions["jobs"].queue("high").enqueue("workers.messaging.deliver_pending",
                                                    alice.account.id, bob.openid)

    assert jobs.run_all() == 2
    deliver_now(relay, bob)
    deliver_now(relay, bob)

    assert custom_texts(world, bob) == ["晚上七点开会"]
    assert len(world.calls(CUSTOM_SEND)) == 1
    assert states(relay, bob) == [("sent", "custom")]


def test_five_messages_per_user_message_then_pending_and_one_notice(relay, phone, world, jobs):
    """§4.7: 5 CS messages within 48 h of one user message; the 6th waits, with a notice (§4.8)."""
    alice, bob = phone("alice"), phone("bob")
    bob.text("在吗")
    texts = [bulky(f"第{n}件事") for n in range(1, 7)]
    for text in texts:
        alice.text(f"告诉 bob {text}")

    jobs.run_all()

    assert custom_texts(world, bob) == texts[:5]
    assert notices(world, bob) == ["1 条新消息"]
    assert states(relay, bob) == [("sent", "custom")] * 5 + [("pending", None)]
    assert world.cs_window(bob.account.appid, bob.openid)["msg_used"] == 5

    # The last one rides along with bob's next passive reply, before the answer to it.
    assert bob.text("收到") == f"{texts[5]}\n\n{FALLBACK}"
    assert states(relay, bob)[-1] == ("sent", "passive")


def test_short_messages_merge_into_one_customer_service_message(relay, phone, world, jobs):
    """§4.7: the budget counts messages, so consecutive short texts leave as one (merge)."""
    alice, bob = phone("alice"), phone("bob")
    bob.text("在吗")
    for n in range(1, 7):
        alice.text(f"告诉 bob 第{n}件事")

    jobs.run_all()

    assert custom_texts(world, bob) == ["\n\n".join(f"第{n}件事" for n in range(1, 7))]
    assert states(relay, bob) == [("sent", "custom")] * 6
    assert world.cs_window(bob.account.appid, bob.openid)["msg_used"] == 1


def test_merged_messages_stay_within_the_text_limit(relay, phone, world, jobs):
    """§4.7 45002: a merged CS text never exceeds 2048 bytes; oldest first, nothing repeated."""
    alice, bob = phone("alice"), phone("bob")
    bob.text("在吗")
    texts = [f"{n}:" + "好" * 300 for n in range(1, 6)]      # 902+ bytes each: two per message
    for text in texts:
        alice.text(f"告诉 bob {text}")

    jobs.run_all()

    sent = custom_texts(world, bob)
    assert sent == ["\n\n".join(texts[0:2]), "\n\n".join(texts[2:4]), texts[4]]
    assert all(len(text.encode()) <= 2048 for text in sent)
    assert [c["errcode"] for c in world.calls(CUSTOM_SEND)] == [0, 0, 0]
