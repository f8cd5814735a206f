"""Our capability matrix agrees with what WeChat (the sandbox) lets each account call (§5.1).

For every account kind and every capability that maps to an API, our client calls the API
through the sandbox: WeChat answers 48001 exactly when `Capabilities` says the account may not.
"""
import io

import pytest

from bot.capabilities import Cap, CapabilityMissing, for_account
from bot.wechat import WeChatError, make_client

KINDS = {   # slug: (type, verified)
    "svc": ("service", True),
    "svc-raw": ("service", False),
    "sub": ("subscription", True),
    "sub-raw": ("subscription", False),
}
CALLS = {
    Cap.CUSTOM_MESSAGE: lambda c: c.message.send_text("o_somebody", "你好"),
    Cap.MENU: lambda c: c.menu.get(),
    Cap.USER_INFO: lambda c: c.tag.get(),
    Cap.MEDIA: lambda c: c.media.upload("image", ("a.png", io.BytesIO(b"\x89PNG\r\n"), "image/png")),
    Cap.QR_CODE: lambda c: c.qrcode.create({"action_name": "QR_LIMIT_STR_SCENE",
                                            "action_info": {"scene": {"scene_str": "s"}}}),
    Cap.TEMPLATE: lambda c: c.message.send_template("o_somebody", "TPL", {}),
    Cap.KF: lambda c: c.customservice.get_accounts(),
}


def errcode_of(call, client) -> int:
    try:
        call(client)
    except WeChatError as exc:
        return exc.errcode
    return 0


@pytest.mark.parametrize("slug", list(KINDS))
def test_refused_exactly_where_the_matrix_says(app, make_account, slug):
    """48001 from WeChat ⇔ our matrix denies the capability (§5.1)."""
    kind, verified = KINDS[slug]
    n = list(KINDS).index(slug)
    account = make_account(slug=slug, type=kind, verified=verified, appid=f"wx{n:016d}",
                           token=f"tok{n}", original_id=f"gh_{n}")
    client = make_client(account, app.extensions["redis"], app.extensions["http"],
                         app.config["WECHAT_API_BASE"], app.config["WECHAT_HTTP_TIMEOUT"])
    caps = for_account(account)
    for cap, call in CALLS.items():
        refused = errcode_of(call, client) == 48001
        assert refused == (not caps.allows(cap)), (slug, cap)


def test_strict_require_raises_and_lenient_require_falls_back(make_account, caplog):
    """Tests fail loudly on a missing capability; production logs it and takes the fallback."""
    account = make_account(slug="sub-raw", type="subscription", verified=False, appid="wx1111111111111111")
    with pytest.raises(CapabilityMissing):
        for_account(account, strict=True).require(Cap.TEMPLATE)
    assert for_account(account).require(Cap.TEMPLATE) is False
    assert "lacks template" in caplog.text
    assert for_account(account).require(Cap.PASSIVE_REPLY) is True
