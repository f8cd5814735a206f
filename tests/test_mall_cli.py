"""Operators load products as data and ship or cancel orders from the command line."""
from sqlalchemy import select

from bot import points
from bot.mall.orders import redeem
from bot.points.engine import adjust
from models import MallOrder, Member, Product, VirtualCode

GOOD = """categories:
  - {code: home, name: 家居}
  - {code: card, name: 卡券}
products:
  - code: mug
    name: 保温杯
    category: home
    points: 100
    stock: 2
    limit_per_member: 1
    from: 2026-01-01
    to: 2026-12-31
  - code: coffee
    name: 咖啡券
    category: card
    kind: virtual
    points: 50
    stock: 2
    codes: coffee.txt
"""
ADDRESS = {"name": "张三", "phone": "13800138000", "region": "杭州", "detail": "文三路 1 号"}


def write(tmp_path, text):
    (tmp_path / "coffee.txt").write_text("C-1\nC-2\n", encoding="utf-8")
    path = tmp_path / "products.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_bad_file_names_each_line_and_writes_nothing(app, db, tmp_path):
    bad = GOOD.replace("points: 100", "points: -1").replace("category: card", "category: toys")
    result = app.test_cli_runner().invoke(args=["mall", "load", write(tmp_path, bad)])
    assert result.exit_code == 1
    assert "line 5: 'points' must be a whole number ≥ 1" in result.output
    assert "line 13: category 'toys' is not in categories" in result.output
    assert db.scalar(select(Product)) is None


def test_load_check_then_load_then_reload_keeps_orders_and_sold(app, db, tmp_path):
    cli = app.test_cli_runner()
    path = write(tmp_path, GOOD)
    assert "nothing written" in cli.invoke(args=["mall", "load", path, "--check"]).output
    assert db.scalar(select(Product)) is None
    assert "2 products loaded (2 new, 2 virtual codes added)" in cli.invoke(args=["mall", "load", path]).output
    db.rollback()
    member = Member(phone="13800138000", level="registered")
    db.add(member)
    db.commit()
    with points.transaction(app) as book:
        adjust(book, member.id, 500, "赠送", "ops", "g1")
    with points.transaction(app) as book:
        order_id = redeem(book, member.id, "mug", "tok", ADDRESS).id
    result = cli.invoke(args=["mall", "load", write(tmp_path, GOOD.replace("stock: 2\n    limit", "stock: 9\n    limit"))])
    assert "(0 new, 0 virtual codes added)" in result.output
    db.rollback()
    mug = db.scalar(select(Product).where(Product.code == "mug"))
    assert (mug.stock, mug.sold) == (9, 1)
    assert db.get(MallOrder, order_id) is not None
    assert len(db.scalars(select(VirtualCode)).all()) == 2
    assert "mug\t保温杯\tphysical\t100分\tstock 9\tsold 1" in cli.invoke(args=["mall", "products"]).output

    assert "shipped" in cli.invoke(args=["mall", "ship", str(order_id), "--tracking", "SF1", "--carrier", "顺丰"]).output
    assert f"{order_id},保温杯,100,shipped,SF1" in cli.invoke(args=["mall", "orders", "--format", "csv"]).output
    for _ in range(2):
        assert "cancelled" in cli.invoke(args=["mall", "cancel", str(order_id), "--reason", "客户取消"]).output
    db.rollback()
    assert db.get(Member, member.id).points == 500
    assert db.scalar(select(Product).where(Product.code == "mug")).stock == 10
    refused = cli.invoke(args=["mall", "ship", "999", "--tracking", "X"])
    assert refused.exit_code == 1 and "没有订单 999" in refused.output
