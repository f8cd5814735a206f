"""商城 in the chat: a news card that opens the points mall (H5, h5/mall.py)."""
from bot.capabilities import Cap
from bot.dispatch import Router, Turn
from bot.protocol import Article

router = Router("mall")

NO_MALL = "积分商城在总部服务号里开放：请关注总部服务号，在那里回复“商城”进入。"


def mall_url(config, slug: str) -> str:
    """The mall's address; opening it starts the OAuth round trip (h5/oauth.py)."""
    return f"{config['PUBLIC_BASE_URL']}/h5/{slug}/mall/"


@router.text("商城", "积分商城")
def open_mall(ctx, msg):
    """Answers with a one-article card linking to the mall (OAuth: verified service accounts only, §4.11)."""
    if not ctx.caps.allows(Cap.OAUTH):
        return NO_MALL
    return Turn(news=Article(title="积分商城", description="用积分兑换好礼，点击进入。", pic_url="",
                             url=mall_url(ctx.config, ctx.account.slug)))
