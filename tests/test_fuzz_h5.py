"""Fuzzing the mall's POSTs as a broken client or a forger could send them (hypothesis): any
token, any address fields, any saved-address choice, on the confirm and on the final redeem.
Never a 500; an order is stored only from a form that names a valid address (every field, an
11-digit mainland phone) and a 32-character submit token, and each valid form is answered with
its order; the member's points always equal their ledger."""
import re
import string

from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from bot.phones import normalize
from models import LedgerEntry, MallOrder, Member
from models.points import POINTS
from test_h5_mall import MALL, member, shop  # noqa: F401  (shop: fixture of the mall's pages)

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FIELD = st.one_of(st.text(max_size=40), st.sampled_from(["", " ", "张三", "<script>", "'; DROP TABLE x;--"]),
                  st.sampled_from(["长", "a"]).map(lambda c: c * 300))
PHONE = st.one_of(FIELD, st.sampled_from(["13900001111", "139 0000 1111", "+86 139-0000-1111", "23900001111",
                                          "1390000111", "１３９００００１１１１"]))
TOKEN = st.one_of(st.text(string.hexdigits.lower(), min_size=32, max_size=32), st.text(max_size=40))
FORM = st.fixed_dictionaries({"token": TOKEN, "name": FIELD, "phone": PHONE, "region": FIELD, "detail": FIELD},
                             optional={"saved": st.one_of(st.text(max_size=6), st.integers(-5, 10**12).map(str))})


def valid(form: dict) -> bool:
    fields = [form.get(f, "").strip() for f in ("name", "phone", "region", "detail")]
    return len(form["token"]) == 32 and all(fields) and normalize(form["phone"].strip()[:128]) is not None


def balanced(db, member_id: int) -> bool:
    db.rollback()
    total = db.scalar(select(func.coalesce(func.sum(LedgerEntry.delta), 0)).where(
        LedgerEntry.member_id == member_id, LedgerEntry.ledger == POINTS))
    return db.get(Member, member_id).points == total >= 0


def test_fuzzed_redeem_forms_never_fail_and_store_only_valid_orders(app, wx, jobs, shop, db):  # noqa: F811
    browser = member(app, wx, jobs, "13900001111", 10**9)
    member_id = db.scalar(select(Member.id).where(Member.phone == "13900001111"))
    browser.get(f"{MALL}p/towel/redeem")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.text()).group(1)

    placed = set()

    @FUZZ
    @given(form=FORM, step=st.sampled_from(["confirm", "redeem"]))
    def one(form, step):
        before = db.scalar(select(func.count()).select_from(MallOrder))
        response = browser.client.post(f"{MALL}p/towel/{step}", data={**form, "csrf_token": csrf})
        assert response.status_code < 500, response.get_data(as_text=True)[:300]
        db.rollback()
        stored = db.scalars(select(MallOrder).where(MallOrder.submit_token.like(f"%:{form['token']}"))).all() \
            if len(form["token"]) == 32 else []
        made = db.scalar(select(func.count()).select_from(MallOrder)) - before
        if step == "confirm":
            assert made == 0                                  # the confirm page writes nothing
        elif form["token"] in placed:
            assert made == 0 and response.status_code == 303  # a resubmitted form: its first order
        elif valid(form):
            assert response.status_code == 303 and len(stored) == 1   # answered with its one order
            assert normalize(stored[0].address["phone"]) == stored[0].address["phone"]
            placed.add(form["token"])
        else:
            assert made == 0 and response.status_code in (400, 409), response.status_code
        assert balanced(db, member_id)
    one()
