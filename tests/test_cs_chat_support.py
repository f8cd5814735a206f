"""What the customer-service transcripts share (issue #6): two stores, agents who follow the
account and are bound members on the roster, fans of a store, and fresh reads of what the
webhook wrote. No tests here."""
import io
import itertools
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from bot.cs.labels import label
from bot.outbound import SEPARATOR
from models import Company, Conversation, CsMessage, Fan, Member, Staff, Store
from wechat_client_support import client_for

CUSTOM_SEND = "/cgi-bin/message/custom/send"
TEMPLATE_SEND = "/cgi-bin/message/template/send"
PHONES = itertools.count(13900000001)


@dataclass
class Org:
    """Stores, agents and fans on the test account, made through the webhook where it matters
    (following) and in the database where the roster would be (staff, members)."""

    app: object
    account: object
    db: object
    phone: object
    world: object
    jobs: object
    stores: dict = field(default_factory=dict)
    staff: dict = field(default_factory=dict)       # agent name -> Staff id

    def store(self, name: str) -> Store:
        if name not in self.stores:
            company = self.db.scalar(select(Company)) or Company(code="HZ", name="杭州公司")
            self.db.add(company)
            self.db.flush()
            store = Store(code=f"S{len(self.stores) + 1}", name=name, company_id=company.id)
            self.db.add(store)
            self.db.commit()
            self.stores[name] = store
        return self.stores[name]

    def member(self, person, phone: str | None = None, **fields) -> Member:
        """Make the person's fan a member (as binding would have)."""
        fan = self.fan_row(person)
        member = Member(phone=phone or str(next(PHONES)), **fields)
        self.db.add(member)
        self.db.flush()
        fan.member_id = member.id
        self.db.commit()
        return member

    def agent(self, name: str, store: str, capacity: int = 1, default: bool = False, shift: bool = True,
              person=None):
        """An agent on the roster who follows the account, bound, and (by default) on shift
        (`person`: a follower who becomes one)."""
        if person is None:
            person = self.phone(name)
            person.follow()
        member = self.member(person)
        staff = Staff(phone=member.phone, name=name, store_id=self.store(store).id, roles="agent",
                      capacity=capacity, default_agent=default, member_id=member.id)
        self.db.add(staff)
        self.db.commit()
        self.staff[name] = staff.id
        if shift:
            assert person.text("上班").startswith("已上班")
        return person

    def fan(self, name: str, store: str | None = None):
        """A follower attributed to `store` (first touch, issue #5)."""
        person = self.phone(name)
        person.follow()
        if store is not None:
            self.fan_row(person).store_id = self.store(store).id
            self.db.commit()
        return person

    def fan_row(self, person) -> Fan:
        self.db.rollback()
        self.db.expire_all()
        return self.db.scalar(select(Fan).where(Fan.account_id == person.account.id,
                                                Fan.openid == person.openid))

    def conversation(self, person) -> Conversation:
        """The person's newest conversation, read fresh."""
        fan = self.fan_row(person)
        return self.db.scalar(select(Conversation).where(Conversation.fan_id == fan.id)
                              .order_by(Conversation.id.desc()))

    def tag(self, person) -> str:
        """"【#12 …】": how the agent sees this fan's messages."""
        return f"【{label(self.db, self.conversation(person))}】"

    def transcript(self, person) -> list[tuple[str, str, str]]:
        conversation = self.conversation(person)
        rows = self.db.scalars(select(CsMessage).where(CsMessage.conversation_id == conversation.id)
                               .order_by(CsMessage.id))
        return [(r.sender, r.msg_type, r.content if r.msg_type == "text" else r.media_id) for r in rows]

    def inbox(self, person, kind: str | None = "custom") -> list[dict]:
        """What reached the person outside passive replies."""
        return [m for m in self.world.messages_to(person.account.appid, person.openid)
                if kind is None or m["kind"] == kind]

    def texts(self, person) -> list[str]:
        """The customer-service texts the person got, each merged message split back apart."""
        return [piece for m in self.inbox(person) if m["msgtype"] == "text"
                for piece in m["content"].split(SEPARATOR)]

    def upload(self, kind: str = "image") -> str:
        """A media id the sandbox knows (fans' images and voice arrive with one)."""
        name, data = ("p.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64) if kind == "image" else ("v.amr", b"#!AMR\n" + b"0" * 64)
        return client_for(self.app, self.account).media.upload(kind, (name, io.BytesIO(data), "application/octet-stream"))["media_id"]


def pieces(reply: str | None) -> list[str]:
    """A passive reply split into the messages it merged."""
    return reply.split(SEPARATOR) if reply else []


def send_image(person, media_id: str):
    return person.send("image", {"PicUrl": "http://sandbox/p.png", "MediaId": media_id},
                       user_event="message").content


def send_voice(person, media_id: str):
    return person.send("voice", {"MediaId": media_id, "Format": "amr", "Recognition": ""},
                       user_event="message").content


@pytest.fixture
def org(app, db, phone, world, jobs, account):
    return Org(app, account, db, phone, world, jobs)
