"""The customer-service test harness: one cast of stores, agents and fans for every CS test.

`Cast` drives the chat through the webhook (the `team` and `org` fixtures in conftest.py): agents
and fans follow through the webhook; the roster and members are rows, as an import and binding
would have made them. Its methods take a person's name or their Phone. tests/cs_sim.py drives
the lifecycle API one transaction per step, on rows built by the same `add_store` / `add_agent`.
No tests here."""
import io
import itertools
from dataclasses import dataclass, field

from sqlalchemy import select

from bot.cs.labels import label
from bot.outbound import SEPARATOR
from models import Company, Fan, Member, Staff, Store
from models.cs import AgentState, Assignment, Conversation, CsMessage
from wechat_client_support import client_for
from workers import cs as cs_jobs

CUSTOM_SEND = "/cgi-bin/message/custom/send"
TEMPLATE_SEND = "/cgi-bin/message/template/send"
PHONES = itertools.count(13700000001)
# Stores by code (the engine tests: "A", "B", "HQ"); any other key is a store's name, coded S1, S2...
STORES = {"A": "门店A", "B": "门店B", "HQ": "总部"}


def add_store(db, code: str, name: str, company: Company | None = None) -> Store:
    """A store of `company` (else of the one company there is, made if none)."""
    company = company or db.scalar(select(Company)) or Company(code="G", name="集团")
    db.add(company)
    db.flush()
    store = Store(code=code, name=name, company_id=company.id)
    db.add(store)
    db.flush()
    return store


def add_agent(db, fan: Fan, name: str, store_id: int, capacity: int, default: bool = False,
              phone: str | None = None, **member_fields) -> Staff:
    """The fan becomes a bound member on the roster as an agent of `store_id`."""
    member = Member(phone=phone or str(next(PHONES)), **member_fields)
    db.add(member)
    db.flush()
    fan.member_id = member.id
    staff = Staff(phone=member.phone, name=name, store_id=store_id, roles="agent", capacity=capacity,
                  default_agent=default, member_id=member.id)
    db.add(staff)
    db.flush()
    return staff


@dataclass
class Cast:
    app: object
    db: object
    phone: object
    world: object
    jobs: object
    account: object
    clock: object
    people: dict = field(default_factory=dict)      # name -> Phone
    staff: dict = field(default_factory=dict)       # agent name -> Staff id
    stores: dict = field(default_factory=dict)      # code or name -> Store id

    @property
    def staff_ids(self) -> dict:
        return self.staff

    def person(self, who):
        return self.people[who] if isinstance(who, str) else who

    def store(self, key: str) -> int:
        if key not in self.stores:
            code, name = (key, STORES[key]) if key in STORES else (f"S{len(self.stores) + 1}", key)
            self.stores[key] = add_store(self.db, code, name).id
            self.db.commit()
        return self.stores[key]

    def member(self, who, phone: str | None = None, **fields) -> Member:
        """Make the person's fan a member (as binding would have)."""
        fan = self.fan_row(who)
        member = Member(phone=phone or str(next(PHONES)), **fields)
        self.db.add(member)
        self.db.flush()
        fan.member_id = member.id
        self.db.commit()
        return member

    def agent(self, name: str, store: str, capacity: int = 1, default: bool = False, shift: bool = True,
              kf_account: str | None = None, person=None):
        """An agent on the roster who follows the account, bound, and (by default) on shift by
        saying 上班 (`person`: a follower who becomes one)."""
        if person is None:
            person = self.phone(name)
            person.follow()
        staff = add_agent(self.db, self.fan_row(person), name, self.store(store), capacity, default)
        if kf_account:
            self.db.add(AgentState(staff_id=staff.id, on_shift=False, kf_account=kf_account))
        self.db.commit()
        self.people[name], self.staff[name] = person, staff.id
        if shift:
            assert person.text("上班").startswith("已上班")
        return person

    def fan(self, name: str, store: str | None = None):
        """A follower whose first touch was `store`'s code (issue #5)."""
        person = self.phone(name)
        person.follow()
        if store is not None:
            self.fan_row(person).store_id = self.store(store)
            self.db.commit()
        self.people[name] = person
        return person

    def fan_row(self, who) -> Fan:
        person = self.person(who)
        self.db.rollback()
        self.db.expire_all()
        return self.db.scalar(select(Fan).where(Fan.account_id == person.account.id, Fan.openid == person.openid))

    def conversation(self, who) -> Conversation:
        """The person's newest conversation, read fresh."""
        fan = self.fan_row(who)
        return self.db.scalar(select(Conversation).where(Conversation.fan_id == fan.id)
                              .order_by(Conversation.id.desc()))

    def agent_of(self, who) -> str | None:
        """Who has the fan's newest conversation (None while it waits)."""
        c = self.conversation(who)
        return next((n for n, i in self.staff.items() if i == c.agent_id), None) if c.agent_id else None

    def reasons(self, who) -> list[tuple[str, str]]:
        c = self.conversation(who)
        return [(a.kind, a.reason) for a in self.db.scalars(
            select(Assignment).where(Assignment.conversation_id == c.id).order_by(Assignment.id))]

    def load(self, name: str) -> int:
        self.db.rollback()
        return len(self.db.scalars(select(Conversation.id).where(
            Conversation.agent_id == self.staff[name], Conversation.status == "assigned")).all())

    def tag(self, who) -> str:
        """"【#12 …】": how the agent sees this fan's messages."""
        return f"【{label(self.db, self.conversation(who))}】"

    def transcript(self, who) -> list[tuple[str, str, str]]:
        conversation = self.conversation(who)
        rows = self.db.scalars(select(CsMessage).where(CsMessage.conversation_id == conversation.id)
                               .order_by(CsMessage.id))
        return [(r.sender, r.msg_type, r.content if r.msg_type == "text" else r.media_id) for r in rows]

    def inbox(self, who, kind: str | None = "custom") -> list[dict]:
        """What reached the person outside passive replies."""
        person = self.person(who)
        return [m for m in self.world.messages_to(person.account.appid, person.openid)
                if kind is None or m["kind"] == kind]

    def texts(self, who) -> list[str]:
        """The customer-service texts the person got, each merged message split back apart."""
        return [piece for m in self.inbox(who) if m["msgtype"] == "text"
                for piece in m["content"].split(SEPARATOR)]

    def upload(self, kind: str = "image") -> str:
        """A media id the sandbox knows (fans' images and voice arrive with one)."""
        name, data = ("p.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64) if kind == "image" else ("v.amr", b"#!AMR\n" + b"0" * 64)
        return client_for(self.app, self.account).media.upload(kind, (name, io.BytesIO(data), "application/octet-stream"))["media_id"]

    def sweep(self) -> None:
        """The minute sweep (workers/schedule.py), then the messages it queued."""
        with self.app.app_context():
            cs_jobs.sweep()
        self.jobs.run_all()


def cast(team: Cast) -> Cast:
    """门店A: 张三 (2), 李四 (1); 门店B: 赵六 (1); 总部: 王五 (1), the default agent. 张三 came
    on shift first, so he has been idle longest."""
    for name, store, capacity in (("张三", "A", 2), ("李四", "A", 1), ("赵六", "B", 1), ("王五", "HQ", 1)):
        team.agent(name, store, capacity, default=name == "王五")
        team.clock.advance(minutes=1)
    team.jobs.run_all()
    return team


def pieces(reply: str | None) -> list[str]:
    """A passive reply split into the messages it merged."""
    return reply.split(SEPARATOR) if reply else []


def send_image(person, media_id: str):
    return person.send("image", {"PicUrl": "http://sandbox/p.png", "MediaId": media_id},
                       user_event="message").content


def send_voice(person, media_id: str):
    return person.send("voice", {"MediaId": media_id, "Format": "amr", "Recognition": ""},
                       user_event="message").content
