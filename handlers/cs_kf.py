"""WeChat's kf system telling us what its agents did (WECHAT-PLATFORM.md §3.3).

kf_create_session (KfAccount), kf_close_session (KfAccount), kf_switch_session (FromKfAccount,
ToKfAccount) arrive from the fan's openid; they are mirrored onto the fan's conversation
(bot/cs/kf.py) so agents' loads stay true. Nobody sees a reply to them (bot/outbound.py
SILENT_KINDS): these handlers answer nothing.
"""
from bot.cs import kf
from bot.dispatch import Router

router = Router("cs_kf")


@router.event("kf_create_session")
def kf_created(ctx, msg):
    """A kf agent took the fan: the conversation is theirs."""
    kf.session_created(ctx.db, ctx.account, ctx.fan, kf.kf_account_in(msg.account), ctx.now)


@router.event("kf_switch_session")
def kf_switched(ctx, msg):
    """A kf agent passed the fan to another: the conversation follows."""
    kf.session_switched(ctx.db, ctx.fan, kf.kf_account_in(msg.from_account), kf.kf_account_in(msg.to_account),
                        ctx.now)


@router.event("kf_close_session")
def kf_closed(ctx, msg):
    """The kf agent ended the session: ours closes, the fan may rate it."""
    kf.session_closed(ctx.db, ctx.fan, kf.kf_account_in(msg.account), ctx.now, ctx.tell, ctx.enqueue)
