"""Images and voice through the outbound policy: by media id, one customer-service message each,
in order with the texts around them; a passive reply never lets a later text overtake them."""
import io

from outbound_support import CUSTOM_SEND, RELAYED, received, states

from bot.outbound import queue_media
from handlers.common import FALLBACK
from models.outbound import IMAGE
from tests.conftest import later
from wechat_client_support import client_for


def upload(app, account) -> str:
    png = io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    return client_for(app, account).media.upload("image", ("p.png", png, "image/png"))["media_id"]


def queue_image(app, account, person, media_id: str, clock) -> None:
    with app.app_context(), app.extensions["db"]() as db, db.begin():
        queue_media(db, lambda *a, **k: None, account.id, person.openid, IMAGE, media_id, "[图片] 海报",
                    clock.now())


def test_an_image_between_two_texts_leaves_in_order(relay, account, phone, world, jobs, clock):
    """Texts before the image merge into one message, the image goes alone, the text after it last."""
    alice, bob = phone("alice"), phone("bob")
    bob.text("在吗")
    alice.text("告诉 bob 第一件事")
    alice.text("告诉 bob 第二件事")
    queue_image(relay, account, bob, upload(relay, account), clock)
    alice.text("告诉 bob 第三件事")

    jobs.run_all()

    sent = [(m["msgtype"], m["content"]) for m in received(world, bob, "custom")]
    assert [kind for kind, _ in sent] == ["text", "image", "text"]
    assert sent[0][1] == "第一件事\n\n第二件事" and sent[2][1] == "第三件事"
    assert states(relay, bob) == [("sent", "custom")] * 4


def test_a_passive_reply_stops_at_a_waiting_image(relay, account, phone, world, jobs, clock):
    """No budget left: the image and the text after it wait. When bob writes, the passive reply
    carries nothing that was queued after the image; the image leaves first, then that text."""
    alice, bob = phone("alice"), phone("bob")
    bob.text("在吗")
    world.fail_next(CUSTOM_SEND, 45047, times=1, appid=account.appid)     # budget used up (§4.7)
    queue_image(relay, account, bob, upload(relay, account), clock)
    alice.text("告诉 bob 图后的话")
    jobs.run_all()
    assert states(relay, bob) == [("pending", None), ("pending", None)]

    later(clock, hours=1)
    assert bob.text("收到") == FALLBACK          # the later text does not overtake the image
    jobs.run_all()

    sent = [(m["msgtype"], m["content"]) for m in received(world, bob, "custom")]
    assert [kind for kind, _ in sent] == ["image", "text"]
    assert sent[1][1] == "图后的话"


def test_an_image_past_its_three_days_is_told_not_dropped(relay, account, phone, world, jobs, clock):
    """§3.4: temporary media live 3 days; an image that waited longer arrives as a text saying so."""
    alice, bob = phone("alice"), phone("bob")
    queue_image(relay, account, bob, "expired-media-id", clock)
    jobs.run_all()                           # bob never wrote: no window, the image waits
    later(clock, days=4)

    assert bob.text("在吗") == FALLBACK
    jobs.run_all()

    assert [m["content"] for m in received(world, bob, "custom")] == ["[图片] 海报（已过期，未能送达，请重新获取）"]
    assert states(relay, bob) == [("sent", "custom")]
