"""Data model: typed SQLAlchemy 2.0 models. Imports nothing of ours outside this package."""
from models.account import Account
from models.base import Base
from models.cs import AgentState, Assignment, CannedReply, Conversation, CsMessage
from models.event import Event
from models.fan import Fan
from models.keyword import KeywordReply
from models.lifecycle import MemberStage
from models.mall import MallCategory, MallOrder, Product, VirtualCode
from models.member import Member
from models.org import Company, Staff, Store
from models.outbound import OutboundMessage
from models.points import (Award, LedgerEntry, LevelChange, PendingCredit, PointsLot, PointsPolicy,
                           PointsRule)
from models.purchase import Integration, Purchase, Refund
from models.qr import FanTag, QrCode, QrEvent
from models.referral import Referral
from models.survey import Survey, SurveyLink, SurveyResponse
from models.tag import WechatTag

__all__ = ["Account", "AgentState", "Assignment", "Award", "Base", "CannedReply", "Conversation", "CsMessage", "Event", "Fan", "FanTag", "Integration", "KeywordReply",
           "LedgerEntry", "LevelChange", "MallCategory", "MallOrder", "Member", "MemberStage", "PendingCredit",
           "Product", "VirtualCode", "OutboundMessage", "PointsLot", "PointsPolicy",
           "PointsRule", "Purchase", "QrCode", "QrEvent", "Referral", "Refund", "Staff", "Store", "Company", "Survey", "SurveyLink", "SurveyResponse",
           "WechatTag"]
