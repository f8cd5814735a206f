"""A member who bound their phone before being put on the roster becomes staff when the roster
is imported (issue #4: a fan whose verified phone is on the active roster is staff)."""
from sqlalchemy import select

from models import Company, Fan, Member, Staff, Store


def test_a_roster_import_makes_an_existing_member_staff(app, db, account, phone, jobs, tmp_path):
    """The roster lists 138****0000, already a member through alice's WeChat: the roster row is
    linked to that member and alice's fan gets the 员工 role (tag job queued)."""
    phone("alice").text("你好")
    member = Member(phone="13800000000", level="")
    company = Company(code="hq", name="总部")
    db.add_all([member, company])
    db.flush()
    db.add(Store(code="sh01", name="上海一店", company_id=company.id))
    fan = db.scalar(select(Fan))
    fan.member_id, fan.role_tag = member.id, "会员"
    db.commit()
    roster = tmp_path / "roster.csv"
    roster.write_text("phone,name,store,roles\n13800000000,王导,sh01,guide\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["staff", "import", str(roster)])
    assert result.exit_code == 0, result.output
    db.expire_all()
    assert db.scalar(select(Staff.member_id)) == member.id
    assert db.get(Fan, fan.id).role_tag == "员工"
    assert "workers.tags.sync_fan_tags" in jobs.queued()
    assert "员工：王导（导游），上海一店" in phone("alice").text("我的")
