"""`mall orders --store/--as`: a store manager sees the orders of products scoped to their store,
as `cs list --as` scopes conversations; anyone else is refused; the operator sees all."""
from sqlalchemy import select

from bot import points
from bot.mall.orders import redeem
from bot.points.engine import adjust
from models import Company, MallCategory, Member, Product, Staff, Store

ADDRESS = {"name": "张三", "phone": "13800138000", "region": "杭州", "detail": "文三路 1 号"}


def test_a_manager_sees_their_stores_orders_and_nobody_elses(app, db):
    company = Company(code="hq", name="集团")
    db.add(company)
    db.flush()
    east, west = Store(code="east", name="东店", company_id=company.id), Store(code="west", name="西店", company_id=company.id)
    db.add_all([east, west])
    db.flush()
    db.add_all([Staff(phone="13900000001", name="东店长", store_id=east.id, roles="manager"),
                Staff(phone="13900000002", name="导游", store_id=east.id, roles="guide")])
    category = MallCategory(code="home", name="家居")
    db.add(category)
    db.flush()
    db.add_all([Product(code="east-mug", name="东店杯", category_id=category.id, points=10, stock=5, stores=["east"]),
                Product(code="west-mug", name="西店杯", category_id=category.id, points=10, stock=5, stores=["west"]),
                Product(code="mug", name="全店杯", category_id=category.id, points=10, stock=5)])
    buyers = {"east-mug": east.id, "west-mug": west.id, "mug": east.id}
    for n, (code, store_id) in enumerate(buyers.items()):
        member = Member(phone=f"1370000000{n}", level="registered", home_store_id=store_id)
        db.add(member)
        db.commit()
        with points.transaction(app) as book:
            adjust(book, member.id, 100, "赠送", "ops", f"gift-{member.id}")
        with points.transaction(app) as book:
            redeem(book, member.id, code, f"tok-{code}", ADDRESS)
    cli = app.test_cli_runner()
    everything = cli.invoke(args=["mall", "orders"])
    assert all(name in everything.output for name in ("东店杯", "西店杯", "全店杯"))
    mine = cli.invoke(args=["mall", "orders", "--as", "13900000001"])
    assert mine.exit_code == 0 and "东店杯" in mine.output
    assert "西店杯" not in mine.output and "全店杯" not in mine.output
    west_only = cli.invoke(args=["mall", "orders", "--store", "west"])
    assert "西店杯" in west_only.output and "东店杯" not in west_only.output
    refused = cli.invoke(args=["mall", "orders", "--as", "13900000002"])
    assert refused.exit_code != 0 and "not allowed" in refused.output
    assert db.scalar(select(Product.sold).where(Product.code == "east-mug")) == 1
