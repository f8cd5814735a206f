"""An operator moves a fan's first-touch attribution (issue #5: "say how an operator can move a
fan"): the fan and the member's home store follow; the old code is no longer credited."""
from binding_support import bind, fan_of, load_rules, member_by_phone, roster

from bot.qr.codes import new_code
from models import QrCode, Store


def attributed_fan(app, db, account, wx, jobs, clock):
    """alice followed through store 西湖门店's code and bound 13800138000."""
    guide = roster(db, "13900139000", name="王导")
    code = new_code(db, account, permanent=True, now=clock.now(), store_id=guide.store_id, staff_id=guide.id)
    db.commit()
    wx.follow(code.scene)
    fan = fan_of(db, wx)
    assert (fan.store_id, fan.staff_id, fan.source_code_id) == (guide.store_id, guide.id, code.id)   # first touch
    load_rules(app)
    bind(wx, app, jobs, "13800138000")
    assert member_by_phone(db, "13800138000").home_store_id == guide.store_id   # from the fan's store
    return code


def test_move_by_phone_changes_store_staff_and_home_store(app, db, account, wx, jobs, clock):
    attributed_fan(app, db, account, wx, jobs, clock)
    other = roster(db, "13700137000", name="李导", store="灵隐门店")
    cli = app.test_cli_runner()

    moved = cli.invoke(args=["fans", "move", "--account", "hq", "--phone", "13800138000", "--store",
                             db.get(Store, other.store_id).code, "--staff", "13700137000", "--by", "ops"])

    assert moved.exit_code == 0, moved.output
    assert "西湖门店" in moved.output and "灵隐门店" in moved.output and "137****7000" in moved.output
    fan = fan_of(db, wx)
    assert (fan.store_id, fan.staff_id, fan.source_code_id) == (other.store_id, other.id, None)
    assert member_by_phone(db, "13800138000").home_store_id == other.store_id
    shown = cli.invoke(args=["fans", "show", "--account", "hq", "--openid", wx.openid])
    assert "灵隐门店" in shown.output and "code -" in shown.output
    assert db.query(QrCode).count() == 1          # nothing else touched


def test_bad_moves_are_refused_and_change_nothing(app, db, account, wx, jobs, clock):
    attributed_fan(app, db, account, wx, jobs, clock)
    other = roster(db, "13700137000", name="李导", store="灵隐门店")
    cli = app.test_cli_runner()
    before = fan_of(db, wx).store_id
    cases = [
        (["--phone", "13800138000", "--store", "NOPE"], "no store 'NOPE'"),
        (["--phone", "12345", "--store", "S1"], "not a mainland mobile number"),
        (["--phone", "13600136000", "--store", "S1"], "no such fan on hq"),
        (["--store", "S1"], "give one of --openid or --phone"),
        # a staff member of another store than the one the fan moves to
        (["--openid", wx.openid, "--store", "S1", "--staff", "13700137000"], "137****7000 is not active staff of S1"),
    ]
    for args, error in cases:
        result = cli.invoke(args=["fans", "move", "--account", "hq", *args, "--by", "ops"])
        assert result.exit_code != 0 and error in result.output, (args, result.output)
    assert fan_of(db, wx).store_id == before != other.store_id
