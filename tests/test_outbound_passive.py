"""compose_passive: the one passive reply per push (WECHAT-PLATFORM.md §2, §3.4) carries what
waited for the person, then the newest answer, within 2048 bytes (§0 fact 11); and merge()."""
from hypothesis import given
from hypothesis import strategies as st
from outbound_support import RELAYED, bulky, custom_texts, long_answer, rows_for, states

from bot.outbound import SEPARATOR, merge
from bot.protocol import TEXT_LIMIT_BYTES
from handlers.common import FALLBACK
from handlers.me import FAN_HELP_NO_MENU as HELP   # every HELP here is on an unverified 订阅号

SUB = dict(slug="sub", type="subscription", verified=False, appid="wx5ub0000000000001",
           secret="sub-secret", token="subtoken", original_id="gh_5ub000000001", name="分号")


def test_long_answer_first_piece_passive_rest_as_customer_service_message(relay, phone, world, jobs):
    """§0 fact 11: over 2048 bytes fails, so the first piece is the reply and the rest follows
    as a CS message (alice just wrote: her window is open, §4.7)."""
    alice = phone("alice")
    answer = long_answer(80)                            # 80 lines, about 3 300 bytes
    assert len(answer.encode()) > TEXT_LIMIT_BYTES

    first = alice.text("长文 80")

    assert len(first.encode()) <= TEXT_LIMIT_BYTES and answer.startswith(first + "\n")
    assert states(relay, alice) == [("pending", None)]
    jobs.run_all()
    assert first + "\n" + "".join(custom_texts(world, alice)) == answer
    assert states(relay, alice) == [("sent", "custom")]


def test_long_answer_rest_rides_the_next_reply_without_a_push_channel(relay, phone, make_account):
    """§5.1: an unverified 订阅号 can only reply; the rest of a long answer comes first in the
    next reply, then the answer to that push."""
    alice = phone("alice", account=make_account(**SUB))
    first = alice.text("长文 80")

    rest = long_answer(80)[len(first) + 1:]
    assert alice.text("帮助") == f"{rest}{SEPARATOR}{HELP}"
    assert states(relay, alice) == [("sent", "passive")]


def test_waiting_messages_never_push_out_the_newest_answer(relay, phone, make_account):
    """DESIGN.md Outbound: older messages go first while they fit; the answer is always there;
    the rest keeps its order for the replies after."""
    sub = make_account(**SUB)
    alice, bob = phone("alice", account=sub), phone("bob", account=sub)
    texts = [bulky(f"第{n}件事") for n in range(1, 4)]   # 1 200+ bytes: one per reply
    for text in texts:
        alice.text(f"告诉 bob {text}")

    assert bob.text("帮助") == f"{texts[0]}{SEPARATOR}{HELP}"
    assert bob.text("帮助") == f"{texts[1]}{SEPARATOR}{HELP}"
    assert bob.text("帮助") == f"{texts[2]}{SEPARATOR}{HELP}"
    assert bob.text("帮助") == HELP
    assert states(relay, bob) == [("sent", "passive")] * 3


def test_what_does_not_fit_goes_out_through_the_window_the_push_opened(relay, phone, world, jobs,
                                                                        clock):
    """§4.7: bob's message reopens his window, so waiting messages that did not fit in the
    passive reply leave as CS messages right away, in order."""
    alice, bob = phone("alice"), phone("bob")
    bob.text("在吗")
    clock.advance(hours=49)
    texts = [bulky(f"第{n}件事") for n in range(1, 4)]
    for text in texts:
        alice.text(f"告诉 bob {text}")
    jobs.run_all()
    assert custom_texts(world, bob) == []

    assert bob.text("收到") == f"{texts[0]}{SEPARATOR}{FALLBACK}"
    jobs.run_all()

    assert custom_texts(world, bob) == texts[1:]
    assert states(relay, bob) == [("sent", "passive"), ("sent", "custom"), ("sent", "custom")]


def test_a_pending_piece_of_exactly_2048_bytes_fits_a_reply_with_no_answer(relay, phone, make_account):
    """§0 fact 11: 2048 bytes is allowed; a push with nothing to answer (a file) carries it."""
    sub = make_account(**SUB)
    alice, bob = phone("alice", account=sub), phone("bob", account=sub)
    alice.text("告诉 bob " + "x" * 2500)              # split: 2048 + 452 bytes
    assert [len(row.content) for row in rows_for(relay, bob)] == [2048, 452]

    reply = bob.send("file", {"Title": "a.pdf", "Description": "", "FileKey": "k",
                              "FileMd5": "0" * 32, "FileTotalLen": "9"}, user_event="message")
    assert reply.content == "x" * 2048
    assert bob.text("帮助") == "x" * 452 + SEPARATOR + HELP
    assert states(relay, bob) == [("sent", "passive")] * 2


def test_pending_and_answer_that_exactly_fill_2048_bytes_go_together(relay, phone, make_account):
    """§0 fact 11: the separator counts once between texts, so an exact fit is not held back."""
    sub = make_account(**SUB)
    alice, bob = phone("alice", account=sub), phone("bob", account=sub)
    room = TEXT_LIMIT_BYTES - len(SEPARATOR.encode()) - len(HELP.encode())
    alice.text("告诉 bob " + "y" * room)

    reply = bob.text("帮助")

    assert reply == "y" * room + SEPARATOR + HELP and len(reply.encode()) == TEXT_LIMIT_BYTES
    assert states(relay, bob) == [("sent", "passive")]


def test_a_message_to_oneself_joins_the_answer(relay, phone, world, jobs):
    """DESIGN.md Outbound: what a push produced for its sender and the handler's answer share
    the one passive reply when they fit (no CS message, no budget spent)."""
    alice = phone("alice")

    assert alice.text("告诉 alice 记得带伞") == f"记得带伞{SEPARATOR}{RELAYED}"
    jobs.run_all()
    assert states(relay, alice) == [] and custom_texts(world, alice) == []


texts_strategy = st.lists(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1,
                                  max_size=700), max_size=12)


@given(texts_strategy, st.integers(min_value=1, max_value=3000))
def test_merge_groups_cover_every_text_once_in_order_within_the_limit(texts, limit):
    """merge(): consecutive groups in order, every index exactly once, each joined group within
    the limit unless it is a single text."""
    groups = merge(texts, limit)

    assert [i for group in groups for i in group] == list(range(len(texts)))
    assert all(group == list(range(group[0], group[-1] + 1)) for group in groups)
    for group in groups:
        joined = SEPARATOR.join(texts[i] for i in group)
        assert len(group) == 1 or len(joined.encode()) <= limit


@given(texts_strategy)
def test_merge_never_leaves_two_neighbours_apart_that_would_fit(texts):
    """merge() is greedy: a group is closed only when the next text does not fit in it."""
    groups = merge(texts)
    for group, following in zip(groups, groups[1:]):
        joined = SEPARATOR.join(texts[i] for i in [*group, following[0]])
        assert len(joined.encode()) > TEXT_LIMIT_BYTES
