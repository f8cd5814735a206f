"""A guide's link: one (survey, guide, group), carried in a signed token.

The token is the triple signed with the app's SECRET_KEY (itsdangerous, HMAC-SHA1 under its own
salt): it cannot be forged, and changing any part of it (another survey, guide or group) breaks
the signature. It holds no time, so the same guide asking again for the same survey and group
gets the same URL.
"""
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models import Account, Staff, Survey, SurveyLink
from models.account import SERVICE

SALT = "survey-link"
GROUP_MAX = 32


@dataclass(frozen=True)
class Token:
    survey_id: int
    staff_id: int
    group: str


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALT)


def sign(secret: str, link: SurveyLink) -> str:
    return _serializer(secret).dumps([link.survey_id, link.staff_id, link.group_code])


def read(secret: str, token: str) -> Token | None:
    """The token's triple, or None for anything not signed by us (edited, forged, truncated)."""
    try:
        value = _serializer(secret).loads(token)
    except BadSignature:
        return None
    if (not isinstance(value, list) or len(value) != 3 or not all(isinstance(v, int) for v in value[:2])
            or not isinstance(value[2], str)):
        return None
    return Token(value[0], value[1], value[2])


def link_for(db, survey: Survey, staff: Staff, group: str, now) -> SurveyLink:
    """The guide's link for this survey and group, made the first time it is asked for."""
    query = select(SurveyLink).where(SurveyLink.survey_id == survey.id, SurveyLink.staff_id == staff.id,
                                     SurveyLink.group_code == group)
    found = db.scalar(query)
    if found is not None:
        return found
    try:
        with db.begin_nested():       # the same guide asking twice at once: one row stands
            link = SurveyLink(survey_id=survey.id, staff_id=staff.id, store_id=staff.store_id,
                              group_code=group, created_at=now)
            db.add(link)
            db.flush()
        return link
    except IntegrityError:
        return db.scalar(query)


def find(db, token: Token) -> SurveyLink | None:
    return db.scalar(select(SurveyLink).where(SurveyLink.survey_id == token.survey_id,
                                              SurveyLink.staff_id == token.staff_id,
                                              SurveyLink.group_code == token.group))


def page_account(db, account: Account) -> Account | None:
    """The account whose H5 pages open the link: this one if it is a verified service account
    (only those have OAuth, WECHAT-PLATFORM.md §5.1), else the deployment's first such account."""
    if account.type == SERVICE and account.verified:
        return account
    return db.scalars(select(Account).where(Account.type == SERVICE, Account.verified)
                      .order_by(Account.id)).first()


def survey_url(base: str, account_slug: str, secret: str, link: SurveyLink) -> str:
    return f"{base}/h5/{account_slug}/survey/t/{sign(secret, link)}"


def results_url(base: str, account_slug: str, survey: Survey) -> str:
    return f"{base}/h5/{account_slug}/survey/results/{survey.code}"


def cover_url(base: str) -> str:
    return f"{base}/h5/static/survey/cover.png"
