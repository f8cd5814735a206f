"""`qr create`, `qr list`, `qr show` (issue #5, Build 1) through the CLI against the sandbox:
one code or a resumable batch, refused before any API call when it cannot be made, PNGs drawn
from WeChat's url with a label, a batch zipped."""
import io
import time
import zipfile
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from bot.qr import batch as batches
from bot.qr import codes
from bot.qr.render import BORDER, MODULE_PX, matrix
from models import QrCode, Staff
from tests.binding_support import SUB, count, roster

QR_CREATE = "/cgi-bin/qrcode/create"
GUIDE, CLERK = "13800001111", "13900002222"


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args):
        return runner.invoke(args=["qr", *args], catch_exceptions=False)
    return run


@pytest.fixture
def staff(db):
    """王导 at 西湖门店 (S1), 李店员 at 滨江门店 (S2)."""
    return roster(db, GUIDE, "王导"), roster(db, CLERK, "李店员", store="滨江门店")


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(batches, "RETRY_DELAYS", (0, 0))


def rows(db, **where) -> list[QrCode]:
    db.rollback()
    db.expire_all()
    return list(db.scalars(select(QrCode).filter_by(**where).order_by(QrCode.id)))


def png_shows(data: bytes, url: str) -> bool:
    """The PNG carries exactly the QR modules of `url` (read back module by module at each
    module's centre), with a label area underneath."""
    image = Image.open(io.BytesIO(data)).convert("L")
    modules = matrix(url)
    side = len(modules) * MODULE_PX
    assert image.width == side and image.height > side
    for y, row in enumerate(modules):
        for x, dark in enumerate(row):
            pixel = image.getpixel((x * MODULE_PX + MODULE_PX // 2, y * MODULE_PX + MODULE_PX // 2))
            if (pixel < 128) != dark:
                return False
    # The quiet zone is blank all round (the label starts below it).
    quiet = image.crop((0, side - BORDER * MODULE_PX, side, side))
    return quiet.getextrema() == (255, 255)


def label_ink(data: bytes) -> int:
    image = Image.open(io.BytesIO(data)).convert("L")
    below = image.crop((0, image.width, image.width, image.height))
    return sum(1 for p in below.getdata() if p < 128)


def test_a_staff_members_permanent_code_is_made_drawn_and_labelled(cli, account, staff, world, db, tmp_path):
    """One code: WeChat is asked for a permanent string-scene code, our row has its ticket, and
    DIR/<scene>.png is that url's QR with "store · staff · channel · scene" underneath."""
    guide, _ = staff
    result = cli("create", "--account", "hq", "--staff", "138-0000-1111", "--channel", "地推",
                 "--tag", "西湖", "--tag", "地推客", "--welcome", "欢迎来到西湖门店！", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    [code] = rows(db)
    assert (code.scene, code.permanent, code.staff_id, code.store_id) == (f"qr{code.id}", True, guide.id,
                                                                          guide.store_id)
    assert (code.channel, code.tags, code.welcome) == ("地推", ["西湖", "地推客"], "欢迎来到西湖门店！")
    assert code.label == f"西湖门店 · 王导 · 地推 · {code.scene}"
    [asked] = world.calls(QR_CREATE)
    assert asked["body"] == {"action_name": "QR_LIMIT_STR_SCENE",
                             "action_info": {"scene": {"scene_str": code.scene}}}
    [made] = world.qrcodes(account.appid)
    assert (made["ticket"], made["url"], made["permanent"]) == (code.ticket, code.url, True)
    png = tmp_path / f"{code.scene}.png"
    assert f"code {code.scene} (西湖门店 · 王导 · 地推 · {code.scene}): {png}" in result.output
    assert png_shows(png.read_bytes(), code.url) and label_ink(png.read_bytes()) > 200
    assert "permanent codes: 1 of 100,000 used" in result.output
    assert not png_shows(png.read_bytes(), code.url + "x")      # the check can fail


def test_the_same_command_again_makes_nothing_new_and_writes_the_file_again(cli, account, staff, world, db,
                                                                           tmp_path):
    args = ("create", "--account", "hq", "--store", "S2", "--channel", "海报", "--out", str(tmp_path))
    assert cli(*args).exit_code == 0
    [code] = rows(db)
    (tmp_path / f"{code.scene}.png").unlink()
    again = cli(*args)
    assert again.exit_code == 0, again.output
    assert "complete already (1 codes): nothing created" in again.output
    assert len(rows(db)) == 1 and len(world.calls(QR_CREATE)) == 1
    assert (tmp_path / f"{code.scene}.png").exists()
    # Another batch with the same options is asked for by name.
    other = cli(*args, "--batch", "海报-第二批")
    assert other.exit_code == 0, other.output
    assert len(rows(db)) == 2 and rows(db)[1].batch == "海报-第二批"


def test_a_batch_of_1000_survives_interruptions_without_duplicates(cli, account, staff, world, db, tmp_path,
                                                                   monkeypatch, capsys):
    """Must show: 1,000 codes with a progress bar; WeChat's 45009 stops the first run at code
    301, Ctrl-C the second at code 701 (after WeChat answered, before our commit); the third
    run finishes. 1,000 rows, 1,000 distinct codes at WeChat, 1,000 PNGs in the zip."""
    real, asked = codes.obtain_ticket, {"n": 0}

    def interrupting(client, code, now):
        asked["n"] += 1
        if asked["n"] == 301:
            world.fail_next(QR_CREATE, 45009, appid=account.appid)
        real(client, code, now)
        if asked["n"] == 701:
            raise KeyboardInterrupt
    monkeypatch.setattr(codes, "obtain_ticket", interrupting)
    args = ("create", "--account", "hq", "--store", "S1", "--channel", "旅游展", "--tag", "旅游展",
            "--count", "1000", "--out", str(tmp_path))
    started = time.perf_counter()

    first = cli(*args)
    assert first.exit_code == 1
    assert "batch p1000-" in first.output and "1,000 new permanent codes for hq" in first.output
    assert "creating codes" in first.output                      # the progress bar
    assert "45009" in first.output
    assert "Error: 300 of 1,000 codes created; run the same command again to finish" in first.output
    assert len(rows(db)) == 1000 and count(db, QrCode, QrCode.ticket.is_not(None)) == 300
    assert not list(tmp_path.iterdir())

    second = cli(*args)
    assert second.exit_code == 1
    assert "resuming, 700 of 1,000 codes still need WeChat's answer" in second.output
    assert "interrupted" in second.output and "699 of 1,000 codes created" in second.output

    third = cli(*args)
    elapsed = time.perf_counter() - started
    assert third.exit_code == 0, third.output
    assert "resuming, 301 of 1,000 codes still need WeChat's answer" in third.output

    made = rows(db)
    name = made[0].batch
    assert len(made) == 1000 and all(c.ticket and c.url for c in made)
    assert [c.batch_index for c in made] == list(range(1, 1001)) and {c.batch for c in made} == {name}
    at_wechat = world.qrcodes(account.appid)
    assert len(at_wechat) == 1000
    assert {c["scene_str"] for c in at_wechat} == {c.scene for c in made}
    assert {c["ticket"] for c in at_wechat} == {c.ticket for c in made}
    # The code Ctrl-C cut off was asked twice, WeChat gave the same code back; the 45009 once more.
    assert len(world.calls(QR_CREATE)) == 1000 + 1 + 1

    archive = tmp_path / f"{name}.zip"
    assert f"1,000 codes: {archive} (1,000 PNGs, one per scene)" in third.output
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        assert sorted(names) == sorted(f"{c.scene}.png" for c in made)
        for code in (made[0], made[299], made[300], made[699], made[700], made[-1]):
            assert png_shows(zipped.read(f"{code.scene}.png"), code.url)
    assert "permanent codes: 1,000 of 100,000 used" in third.output

    with capsys.disabled():
        print(f"\n1,000-code batch, three runs incl. zip of 1,000 PNGs: {elapsed:.1f} s")


def test_system_busy_is_tried_again_and_then_stops(cli, account, world, db, tmp_path):
    """-1 "system busy" (§4.15): the same code is tried three times in all before the run stops."""
    world.fail_next(QR_CREATE, -1, times=2, appid=account.appid)
    args = ("create", "--account", "hq", "--channel", "报纸", "--count", "3", "--out", str(tmp_path))
    assert cli(*args).exit_code == 0
    assert len(world.calls(QR_CREATE)) == 5 and len(world.qrcodes(account.appid)) == 3

    world.fail_next(QR_CREATE, -1, times=3, appid=account.appid)
    result = cli("create", "--account", "hq", "--channel", "广播", "--count", "3", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert "0 of 3 codes created; run the same command again to finish" in result.output
    assert len(world.calls(QR_CREATE)) == 8


def test_temporary_codes_expire_after_their_days(cli, account, world, db, tmp_path, clock):
    result = cli("create", "--account", "hq", "--channel", "活动", "--temporary", "7", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "1 new temporary (7 days) code" in result.output
    [code] = rows(db)
    assert code.permanent is False and code.expires_at == clock.now() + timedelta(days=7)
    [asked] = world.calls(QR_CREATE)
    assert asked["body"]["action_name"] == "QR_STR_SCENE" and asked["body"]["expire_seconds"] == 7 * 86400
    assert world.qrcodes(account.appid)[0]["expire_seconds"] == 604800
    assert "permanent codes: 0 of 100,000 used" in result.output
    # Frozen clock: 2026-11-23 10:00 UTC is 18:00 in China.
    assert "until 2026-11-30 18:00" in cli("list", "--account", "hq").output
    clock.advance(days=8)
    assert "expired 2026-11-30 18:00" in cli("list", "--account", "hq").output


def test_the_permanent_budget_refuses_a_batch_whole(cli, account, world, db, tmp_path, monkeypatch):
    """§4.2: 100,000 permanent codes per account, never deleted: a batch that would pass it
    is refused before any row or call; temporary codes are not counted."""
    monkeypatch.setattr(codes, "PERMANENT_BUDGET", 5)
    assert cli("create", "--account", "hq", "--count", "3", "--out", str(tmp_path)).exit_code == 0
    calls = len(world.calls())
    refused = cli("create", "--account", "hq", "--channel", "B", "--count", "3", "--out", str(tmp_path))
    assert refused.exit_code == 1
    assert ("Error: account hq has used 3 of its 5 permanent codes (2 left, WeChat allows no more, §4.2): "
            "3 permanent codes would pass the budget; use --temporary DAYS") in refused.output
    assert len(world.calls()) == calls and len(rows(db)) == 3
    assert cli("create", "--account", "hq", "--channel", "B", "--count", "2", "--out", str(tmp_path)).exit_code == 0
    assert cli("create", "--account", "hq", "--channel", "C", "--temporary", "3", "--out", str(tmp_path)).exit_code == 0
    assert "permanent codes: 5 of 5 used" in cli("list", "--account", "hq").output


def test_wechats_own_permanent_quota_stops_a_batch_part_way(cli, account, world, db, tmp_path):
    """If WeChat counts fewer free permanent codes than we do, its 40097 stops the run."""
    world.set_limit("permanent_qrcodes", 2)
    result = cli("create", "--account", "hq", "--count", "4", "--out", str(tmp_path))
    assert result.exit_code == 1 and "40097" in result.output
    assert "2 of 4 codes created; run the same command again to finish" in result.output
    assert count(db, QrCode, QrCode.ticket.is_not(None)) == 2


@pytest.mark.parametrize("args, message", [
    (["--account", "nope"], "Error: no account nope"),
    (["--account", "hq", "--store", "S9"], "Error: no store S9 (see: flask --app wsgi stores list)"),
    (["--account", "hq", "--staff", "12345"], "Error: --staff '12345' is not a mainland mobile number"),
    (["--account", "hq", "--staff", "13700003333"], "Error: no active staff with phone 137****3333 on the roster"),
    (["--account", "hq", "--staff", "13600004444"], "Error: no active staff with phone 136****4444 on the roster"),
    (["--account", "hq", "--staff", GUIDE, "--store", "S2"],
     "Error: staff 王导 (138****1111) works at store S1, not S2: leave out --store, or choose that store"),
    (["--account", "hq", "--tag", " "], "Error: --tag: a tag name must not be empty"),
    (["--account", "hq", "--tag", "十一个字的标签名称太长"],
     "Error: --tag 十一个字的标签名称太长: 33 bytes; WeChat allows a tag name 30 bytes (10 Chinese characters)"),
    (["--account", "hq", "--count", "0"], "Error: --count must be 1 to 10,000, not 0"),
    (["--account", "hq", "--count", "10001"], "Error: --count must be 1 to 10,000, not 10001"),
    (["--account", "hq", "--temporary", "0"], "Error: a temporary code lives 1 to 30 days"),
    (["--account", "hq", "--temporary", "31"], "Error: a temporary code lives 1 to 30 days"),
    (["--account", "hq", "--channel", "渠" * 65], "Error: --channel must be 1 to 64 characters"),
    (["--account", "hq", "--welcome", "  "], "Error: --welcome must not be empty"),
    (["--account", "hq", "--welcome", "欢" * 683], "Error: --welcome is 2049 bytes; a text reply holds 2048"),
    (["--account", "hq", "--batch", "../up"], "Error: --batch '../up': use 1 to 64 letters"),
])
def test_bad_requests_are_refused_before_any_api_call(cli, account, staff, db, world, tmp_path, args, message):
    db.add(Staff(phone="13600004444", name="离职", store_id=staff[0].store_id, active=False))
    db.commit()
    result = cli("create", *args, "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert world.calls() == [] and rows(db) == []


@pytest.mark.parametrize("kind", [dict(type="subscription", verified=True),
                                  dict(type="service", verified=False)])
def test_accounts_without_parametric_codes_are_refused_without_a_call(cli, make_account, world, db, tmp_path,
                                                                      kind):
    """§4.2: verified service accounts only; WeChat would answer 48001, so it is not asked."""
    make_account(**{**SUB, **kind})
    result = cli("create", "--account", "sub", "--count", "5", "--out", str(tmp_path))
    assert result.exit_code == 1
    state = f"{'a verified' if kind['verified'] else 'an unverified'} {kind['type']}"
    assert (f"Error: account sub is {state} account: parametric QR codes are for verified service accounts "
            "only (WeChat answers 48001 elsewhere)") in result.output
    assert world.calls() == [] and rows(db) == []


def _wechat_tags(world, account, n):
    for i in range(n):
        world.tag_store.create(account.appid, {"tag": {"name": f"已有{i}"}})


def test_a_101st_tag_is_refused_before_any_code(cli, account, world, db, tmp_path):
    """§4.4: 100 tags per account. WeChat has 95 of ours (and its 星标组, not counted); our three
    menu-role tags will come: two new tags make 100, a third makes 101."""
    _wechat_tags(world, account, 95)
    world.tag_store.create(account.appid, {"tag": {"name": "会员"}})
    refused = cli("create", "--account", "hq", "--tag", "已有1", "--tag", "甲", "--tag", "乙", "--tag", "丙",
                  "--out", str(tmp_path))
    assert refused.exit_code == 1
    assert ("Error: the account would have 101 tags (WeChat allows 100): 96 on WeChat, "
            "2 menu-role tags to come (粉丝, 员工), 3 new from --tag (甲, 乙, 丙)") in refused.output
    assert [c["path"] for c in world.calls() if c["path"] != "/cgi-bin/stable_token"] == ["/cgi-bin/tags/get"]
    assert rows(db) == []

    ok = cli("create", "--account", "hq", "--tag", "已有1", "--tag", "甲", "--tag", "乙", "--out", str(tmp_path))
    assert ok.exit_code == 0, ok.output
    # 甲 and 乙 are not on WeChat yet, but the code will create them when scanned: they count.
    again = cli("create", "--account", "hq", "--channel", "X", "--tag", "丙", "--out", str(tmp_path))
    assert again.exit_code == 1
    assert ("the account would have 101 tags (WeChat allows 100): 96 on WeChat, 2 from other codes, not "
            "created yet, 2 menu-role tags to come (粉丝, 员工), 1 new from --tag (丙)") in again.output
    assert cli("create", "--account", "hq", "--channel", "X", "--tag", "甲",
               "--out", str(tmp_path)).exit_code == 0


def test_a_named_batch_with_other_options_is_refused(cli, account, world, db, tmp_path):
    assert cli("create", "--account", "hq", "--channel", "A", "--count", "2", "--batch", "春季",
               "--out", str(tmp_path)).exit_code == 0
    result = cli("create", "--account", "hq", "--channel", "B", "--count", "2", "--batch", "春季",
                 "--out", str(tmp_path))
    assert result.exit_code == 1
    assert "Error: batch 春季 exists with other parameters (2 permanent codes): choose another --batch" in result.output
    assert len(rows(db)) == 2 and (tmp_path / "春季.zip").exists()
    # The finished batch again: nothing new at WeChat, the zip written again.
    (tmp_path / "春季.zip").unlink()
    again = cli("create", "--account", "hq", "--channel", "A", "--count", "2", "--batch", "春季",
                "--out", str(tmp_path))
    assert again.exit_code == 0 and "batch 春季 is complete already (2 codes): nothing created" in again.output
    assert len(world.calls(QR_CREATE)) == 2 and len(rows(db)) == 2
    with zipfile.ZipFile(tmp_path / "春季.zip") as zipped:
        assert sorted(zipped.namelist()) == sorted(f"{c.scene}.png" for c in rows(db))


def test_list_filters_and_show_tells_everything(cli, account, staff, world, db, tmp_path, make_account):
    assert cli("create", "--account", "hq", "--staff", GUIDE, "--tag", "西湖", "--welcome", "欢迎！",
               "--out", str(tmp_path)).exit_code == 0
    assert cli("create", "--account", "hq", "--store", "S2", "--channel", "地推", "--count", "2",
               "--out", str(tmp_path)).exit_code == 0
    world.fail_next(QR_CREATE, 45009, appid=account.appid)
    assert cli("create", "--account", "hq", "--channel", "报纸", "--out", str(tmp_path)).exit_code == 1
    first, second, third, pending = rows(db)

    listing = cli("list", "--account", "hq").output.splitlines()
    assert listing[0].split() == ["id", "scene", "validity", "store", "staff", "channel", "tags", "ticket"]
    assert listing[1].split() == [str(first.id), first.scene, "permanent", "S1", "王导", "-", "西湖", "yes"]
    assert listing[2].split() == [str(second.id), second.scene, "permanent", "S2", "-", "地推", "-", "yes"]
    assert listing[4].split() == [str(pending.id), pending.scene, "permanent", "-", "-", "报纸", "-", "pending"]
    assert listing[-2:] == ["4 codes", "permanent codes: 4 of 100,000 used"]
    only = cli("list", "--account", "hq", "--store", "S2").output
    assert second.scene in only and third.scene in only and first.scene not in only
    only = cli("list", "--account", "hq", "--staff", "+86 138 0000 1111").output
    assert first.scene in only and second.scene not in only
    only = cli("list", "--account", "hq", "--channel", "报纸").output
    assert pending.scene in only and first.scene not in only
    assert "Error: no store S7" in cli("list", "--account", "hq", "--store", "S7").output

    shown = cli("show", first.scene, "--account", "hq").output
    for line in (f"id:        {first.id}", f"scene:     {first.scene}", "validity:  permanent",
                 "store:     S1 西湖门店", "staff:     王导 (138****1111)", "tags:      西湖",
                 "welcome:   欢迎！", f"label:     西湖门店 · 王导 · {first.scene}",
                 f"batch:     {first.batch} #1", f"ticket:    {first.ticket}", f"url:       {first.url}"):
        assert line in shown
    assert GUIDE not in shown
    by_id = cli("show", str(pending.id), "--account", "hq").output
    assert "ticket:    pending (run the same qr create again)" in by_id
    assert "welcome:   - (the account's welcome)" in by_id
    make_account(**SUB)
    for wrong in (("show", first.scene, "--account", "sub"), ("show", "qr999999", "--account", "hq"),
                  ("show", "99999999999", "--account", "hq"), ("show", "海报", "--account", "hq")):
        result = cli(*wrong)
        assert result.exit_code == 1 and "Error: no code" in result.output

