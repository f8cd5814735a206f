"""The SMS a tourist gets after completing a survey and being paid."""
import logging

from sqlalchemy import select, update

from bot.binding.sms import send_notice
from bot.phones import mask_phone
from models import Member, Survey, SurveyResponse
from workers.runtime import job_scope

log = logging.getLogger(__name__)


def text_for(title: str, points: int, balance: int) -> str:
    return f"【旅游集团】您已完成《{title}》，获得 {points} 积分，当前 {balance} 积分。"


def sms_points(response_id: int) -> None:
    """Texts the member what the survey paid. Safe to run twice: a response is texted once
    (marked after the provider took it; a failure leaves it unmarked for rq's retry)."""
    with job_scope() as job:
        found = job.db.execute(
            select(SurveyResponse, Survey.title, Member.phone, Member.points)
            .join(Survey, Survey.id == SurveyResponse.survey_id)
            .join(Member, Member.id == SurveyResponse.member_id)
            .where(SurveyResponse.id == response_id)).first()
        if found is None or found[0].notified_at is not None or not found[0].points:
            log.info("survey sms not needed response=%s", response_id)
            return
        response, title, phone, balance = found
        send_notice(job.app, phone, text_for(title, response.points, balance), "survey_points")
        job.db.execute(update(SurveyResponse).where(SurveyResponse.id == response_id)
                       .values(notified_at=job.now))
        log.info("survey sms sent response=%s to %s", response_id, mask_phone(phone))
