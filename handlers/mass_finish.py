"""WeChat reporting a mass send finished (MASSSENDJOBFINISH, WECHAT-PLATFORM.md §3.3).

Nobody sees a reply to it (bot/outbound.py SILENT_KINDS): the handler records and answers nothing.
"""
import logging

from bot.dispatch import Router
from bot.mass.finish import record_finish

log = logging.getLogger(__name__)
router = Router("mass_finish")


@router.event("masssendjobfinish")
def mass_finished(ctx, msg):
    """Total, filtered, sent and errors onto the send's row."""
    send = record_finish(ctx.db, ctx.account.id, msg.id, msg.status, msg.total_count, msg.filter_count,
                         msg.sent_count, msg.error_count, ctx.now)
    if send is None:
        log.warning("mass send finished that we did not send account=%s msg_id=%s", ctx.account.slug, msg.id)
    else:
        log.info("mass send %s finished account=%s status=%s sent=%s errors=%s", send.id, ctx.account.slug,
                 msg.status, msg.sent_count, msg.error_count)
