"""A real rq worker whose work horse is killed (SIGKILL) in the middle of a batch job, then rq
retries the job: a QR batch whose horse dies inside WeChat's qrcode/create for its third code,
and a mall order's notice whose horse dies inside the customer-service send. WeChat (the
sandbox) takes the call, then holds its answer back, as a call in flight when a process dies."""
from collections import Counter

import pytest
from killed_worker_support import app, clock, eventually, forking_worker, horses, statuses, worker, workers  # noqa: F401 (fixtures)
from outbound_support import CUSTOM_SEND, custom_texts
from rq import Queue
from sqlalchemy import func, select

from bot import points
from bot.jobs import committed
from bot.mall.orders import redeem, ship
from bot.points.engine import adjust
from bot.qr import batch as batches
from bot.sandbox.phone import Phone, sandbox_openid
from bot.sandbox.state import SandboxWeChat
from models import Account, Fan, LedgerEntry, MallCategory, MallOrder, Member, Product, QrCode
from models.mall import PLACED, SHIPPED
from models.points import POINTS
from tests.conftest import SAMPLE, poster

QR_CREATE = "/cgi-bin/qrcode/create"
CODES = 5
HELD = 3                 # the code whose qrcode/create is in flight when the horse dies


def sandbox(app, clock) -> SandboxWeChat:
    world = SandboxWeChat(app.extensions["redis"], clock)
    world.register_account(SAMPLE["appid"], SAMPLE["secret"], "service", True, SAMPLE["original_id"])
    return world


def queue_batch(app, temporary_days: int | None) -> list[int]:
    """The batch's rows and its tickets' job, as the admin API's POST /qr/codes makes them (the
    rows committed first, the job queued after the commit with its retries 5 s, 15 s, 60 s)."""
    with committed(app) as (db, enqueue):
        request = batches.resolve(db, SAMPLE["slug"], store_code=None, staff_phone=None, channel="地推",
                                  tags=(), welcome=None, temporary_days=temporary_days, count=CODES)
        now = app.extensions["clock"].now()
        rows, _made = batches.prepare(db, request, f"api-{request.default_batch(now)}", now)
        ids = [row.id for row in rows]
        enqueue("workers.qr_tickets.issue_codes", request.account.id, ids, retry=(5, 15, 60))
    return ids


def tickets(app, ids: list[int]) -> dict[int, str | None]:
    with app.extensions["db"]() as s:
        return {code.id: code.ticket for code in s.scalars(select(QrCode).where(QrCode.id.in_(ids)))}


@pytest.mark.parametrize("temporary_days", [None, 7], ids=["permanent", "temporary"])
def test_a_horse_killed_inside_a_qr_batch_leaves_every_code_one_ticket(app, clock, worker, temporary_days):
    """Five codes; WeChat makes the third, then the horse dies before its answer arrives: codes
    1 and 2 have their tickets stored, code 3 none. rq retries the job 5 s later (the retries
POST /qr/codes asks for), and the job asks WeChat only for
    codes 3 to 5 (a code with a ticket is skipped), so qrcode/create is called six times: once
    for each code, twice for code 3. What the operator then prints and a fan scans: one ticket
    per code, each WeChat's code for that code's own scene.

    Permanent codes: WeChat answers a scene it has seen with the same code (WECHAT-PLATFORM.md
    §4.2), so the second call for code 3 makes nothing: WeChat holds five codes, one a scene.
    Temporary codes: qrcode/create has no idempotency key, so WeChat holds six, two of them for
    code 3's scene; we store the second. The first was never stored nor shown to anyone (no row
    points to it), carries code 3's own scene (a scan of it would still count for code 3), and
    expires with the batch: one temporary code made twice, nothing lost, nothing paid."""
    with app.extensions["db"]() as s:
        s.add(Account(**SAMPLE))
        s.commit()
    world = sandbox(app, clock)
    world.hang_next(QR_CREATE, 60, after=HELD - 1)
    ids = queue_batch(app, temporary_days)

    def in_flight():
        """WeChat made code 3 and holds its answer back; codes 1 and 2 have their tickets"""
        stored = tickets(app, ids)
        return (len(world.qr.of(SAMPLE["appid"])) == HELD
                and [bool(stored[i]) for i in ids] == [True] * (HELD - 1) + [False] * (CODES - HELD + 1))
    eventually(in_flight)
    [horse] = horses(worker)
    horse.kill()

    jobs = Queue("default", connection=app.extensions["redis"])

    def completed():
        """the retried job finished, every code with its ticket"""
        return len(jobs.finished_job_registry) == 1 and all(tickets(app, ids).values())
    eventually(completed)
    assert len(jobs.failed_job_registry) == 0

    stored = tickets(app, ids)
    made = world.qr.of(SAMPLE["appid"])
    scene_of = {code.id: code.scene for code in _codes(app, ids)}
    by_scene = Counter(code["scene_str"] for code in made)
    # The sandbox records a call with its answer: the call in flight died unanswered, unrecorded.
    answered = Counter(call["body"]["action_info"]["scene"]["scene_str"] for call in world.calls(QR_CREATE))
    assert answered == Counter(scene_of.values())
    assert len(set(stored.values())) == CODES
    for code_id, ticket in stored.items():
        assert world.qr.lookup(SAMPLE["appid"], ticket)["scene_str"] == scene_of[code_id]
    held_code, held_ticket = ids[HELD - 1], made[HELD - 1]["ticket"]   # what WeChat made for the killed call
    assert made[HELD - 1]["scene_str"] == scene_of[held_code]
    if temporary_days is None:
        assert by_scene == Counter(scene_of.values())      # the retry's call answered the same code
        assert stored[held_code] == held_ticket
    else:
        assert by_scene == Counter(scene_of.values()) + Counter([scene_of[held_code]])
        assert held_ticket not in stored.values()          # the orphan: no row, never printed


def _codes(app, ids: list[int]) -> list[QrCode]:
    with app.extensions["db"]() as s:
        return list(s.scalars(select(QrCode).where(QrCode.id.in_(ids)).order_by(QrCode.id)))


ADDRESS = {"name": "王梅", "phone": "13800138000", "region": "浙江省 杭州市 西湖区", "detail": "文三路 1 号"}
GIFT = "开业赠送：积分 +300。当前积分 300。"


def member_who_follows(app, clock, world) -> tuple[Phone, int]:
    """Mei follows the account (her customer-service window opens, WECHAT-PLATFORM.md §4.7) and
    is the member behind that fan, with a mug of 100 points in the mall (5 in stock)."""
    with app.extensions["db"]() as s:
        s.add(Account(**SAMPLE))
        s.commit()
        account = s.scalar(select(Account))
    mei = Phone(poster(app), account, sandbox_openid("hq", "mei"), "plain", world, clock)
    mei.follow()
    with app.extensions["db"]() as s:
        member = Member(phone="13900000001", level="registered")
        category = MallCategory(code="home", name="家居")
        s.add_all([member, category])
        s.flush()
        s.add(Product(code="mug", name="马克杯", category_id=category.id, points=100, stock=5))
        s.scalar(select(Fan).where(Fan.openid == mei.openid)).member_id = member.id
        s.commit()
        return mei, member.id


def books(app, member_id: int) -> tuple:
    """(orders, balance, ledger sum, stock, sold) as stored."""
    with app.extensions["db"]() as s:
        orders = [(o.status, o.points, o.tracking) for o in s.scalars(select(MallOrder).order_by(MallOrder.id))]
        product = s.scalar(select(Product))
        ledger = s.scalar(select(func.sum(LedgerEntry.delta)).where(
            LedgerEntry.member_id == member_id, LedgerEntry.ledger == POINTS))
        return orders, s.get(Member, member_id).points, ledger, product.stock, product.sold


def test_a_horse_killed_sending_a_mall_order_notice_never_sends_it_twice_nor_spends_twice(app, clock, forking_worker):
    worker = forking_worker
    """Mei redeems a mug (as the H5 redeem page's submit does: one points transaction, the
    notice stored with the order). WeChat showed her "兑换成功", then the delivery's horse died
    before the answer came back. rq retries the delivery job 5 s later: it finds the claim of a
    dead run and marks the notice unconfirmed instead of sending it again (customer-service
    messages have no idempotency key, §4.7). Mei saw the notice once; the order, her 100 points
    spent and the stock taken are as the one redemption left them, and the shipping notice
    that follows reaches her as usual."""
    world = sandbox(app, clock)
    mei, member_id = member_who_follows(app, clock, world)
    with points.transaction(app) as book:
        adjust(book, member_id, 300, "开业赠送", "ops", "gift-mei")

    def gifted():
        """the gift's notice reached mei (the worker delivers as usual)"""
        return statuses(app, mei.openid) == ["sent"]
    eventually(gifted)

    world.hang_next(CUSTOM_SEND, 60)
    with points.transaction(app) as book:
        order_id = redeem(book, member_id, "mug", "h5:mei:token-1", ADDRESS).id
    redeemed = f"兑换成功：马克杯（订单 {order_id}），我们发货后会告诉您快递单号。"

    def shown():
        """WeChat showed mei the order's notice, and holds its answer back"""
        return custom_texts(world, mei) == [GIFT, redeemed]
    eventually(shown)

    def one_horse():
        """only the delivery is still running"""
        return len(horses(worker)) == 1
    eventually(one_horse)
    horses(worker)[0].kill()

    def settled():
        """the retried delivery found the dead claim"""
        return statuses(app, mei.openid) == ["sent", "unconfirmed"]
    eventually(settled)
    assert custom_texts(world, mei) == [GIFT, redeemed]
    assert books(app, member_id) == ([(PLACED, 100, None)], 200, 200, 4, 1)

    with points.transaction(app) as book:
        ship(book, order_id, "SF123", "顺丰")

    def shipped():
        """the shipping notice reached mei"""
        return statuses(app, mei.openid) == ["sent", "unconfirmed", "sent"]
    eventually(shipped)
    assert custom_texts(world, mei) == [GIFT, redeemed, "您兑换的马克杯已发货：顺丰 SF123。"]
    assert books(app, member_id) == ([(SHIPPED, 100, "SF123")], 200, 200, 4, 1)
