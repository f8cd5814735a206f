"""Data model: typed SQLAlchemy 2.0 models. Imports nothing of ours outside this package."""
from models.account import Account
from models.base import Base
from models.cs import AgentState, Assignment, CannedReply, Conversation, CsMessage
from models.event import Event
from models.fan import Fan
from models.keyword import KeywordReply
from models.lifecycle import MemberStage
from models.link import FanLink, LinkToken
from models.mass import MassDelivery, MassSend
from models.mall import MallCategory, MallOrder, Product, VirtualCode
from models.member import Member
from models.operator import AuditEntry, Operator
from models.org import Company, Staff, Store
from models.outbound import OutboundMessage
from models.points import (Award, LedgerEntry, LevelChange, PendingCredit, PointsLot, PointsPolicy,
                           PointsRule)
from models.purchase import Integration, Purchase, Refund
from models.qr import FanTag, QrCode, QrEvent
from models.referral import Referral
from models.survey import Survey, SurveyLink, SurveyResponse
from models.tag import WechatTag
from models.tag_rule import TagRule

__all__ = ["Account", "AuditEntry", "Operator", "AgentState", "Assignment", "Award", "Base", "CannedReply", "Conversation", "CsMessage", "Event", "Fan", "FanLink", "FanTag", "Integration", "KeywordReply",
           "LedgerEntry", "LevelChange", "LinkToken", "MallCategory", "MallOrder", "Member", "MemberStage", "PendingCredit",
           "Product", "VirtualCode", "OutboundMessage", "PointsLot", "PointsPolicy",
           "PointsRule", "Purchase", "QrCode", "QrEvent", "Referral", "Refund", "Staff", "Store", "Company", "Survey",
           "SurveyLink", "SurveyResponse", "WechatTag", "TagRule", "MassSend", "MassDelivery"]
