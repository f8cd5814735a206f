"""Data model: typed SQLAlchemy 2.0 models. Imports nothing of ours outside this package."""
from models.account import Account
from models.base import Base
from models.event import Event
from models.fan import Fan
from models.keyword import KeywordReply
from models.outbound import OutboundMessage

__all__ = ["Account", "Base", "Event", "Fan", "KeywordReply", "OutboundMessage"]
