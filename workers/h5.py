"""What the H5 pages ask the bot to say in the chat."""
from sqlalchemy import select

from models import Fan
from workers.runtime import job_scope

BIND_PROMPT = "您打开了积分商城，绑定手机号成为会员后就能用积分兑换礼品：回复“绑定”即可开始。"


def prompt_binding(account_id: int, openid: str) -> None:
    """Tells an unbound fan who opened an H5 page how to bind (once: a bound fan is not told)."""
    with job_scope() as job:
        fan = job.db.scalar(select(Fan).where(Fan.account_id == account_id, Fan.openid == openid))
        if fan is None or fan.member_id is not None:
            return
        job.tell(fan, BIND_PROMPT)
