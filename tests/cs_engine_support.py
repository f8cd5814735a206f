"""The customer-service engine's cast (issue #6 Must show): two stores, three agents with
capacities 1–2 and one default agent, fans attributed to a store; fresh reads of what the
webhook and the jobs wrote. The agents follow through the webhook; the roster and members are
rows, as an import and binding would have made them. No tests here."""
import itertools
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from bot.outbound import SEPARATOR
from models import Company, Fan, Member, Staff, Store
from models.cs import AgentState, Assignment, Conversation
from workers import cs as cs_jobs

PHONES = itertools.count(13700000001)
STORES = {"A": "门店A", "B": "门店B", "HQ": "总部"}


@dataclass
class Team:
    app: object
    db: object
    phone: object
    world: object
    jobs: object
    account: object
    clock: object
    people: dict = field(default_factory=dict)      # name -> Phone
    staff_ids: dict = field(default_factory=dict)   # name -> Staff id
    stores: dict = field(default_factory=dict)      # code -> Store id

    def store(self, code: str) -> int:
        if code not in self.stores:
            company = self.db.scalar(select(Company)) or Company(code="G", name="集团")
            self.db.add(company)
            self.db.flush()
            store = Store(code=code, name=STORES.get(code, code), company_id=company.id)
            self.db.add(store)
            self.db.commit()
            self.stores[code] = store.id
        return self.stores[code]

    def agent(self, name: str, store: str, capacity: int, default: bool = False, shift: bool = True,
              kf_account: str | None = None):
        """A roster agent who follows the account and (by default) comes on shift by saying 上班."""
        person = self.phone(name)
        person.follow()
        fan = self.fan_row(person)
        member = Member(phone=str(next(PHONES)), level="")
        self.db.add(member)
        self.db.flush()
        fan.member_id = member.id
        staff = Staff(phone=member.phone, name=name, store_id=self.store(store), roles="agent",
                      capacity=capacity, default_agent=default, member_id=member.id)
        self.db.add(staff)
        self.db.commit()
        if kf_account:
            self.db.add(AgentState(staff_id=staff.id, on_shift=False, kf_account=kf_account))
            self.db.commit()
        self.people[name], self.staff_ids[name] = person, staff.id
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

    def fan_row(self, person) -> Fan:
        self.db.rollback()
        self.db.expire_all()
        return self.db.scalar(select(Fan).where(Fan.account_id == person.account.id, Fan.openid == person.openid))

    def conversation(self, name: str) -> Conversation:
        fan = self.fan_row(self.people[name])
        return self.db.scalar(select(Conversation).where(Conversation.fan_id == fan.id)
                              .order_by(Conversation.id.desc()))

    def agent_of(self, name: str) -> str | None:
        """Who has the fan's newest conversation (None while it waits)."""
        c = self.conversation(name)
        return next((n for n, i in self.staff_ids.items() if i == c.agent_id), None) if c.agent_id else None

    def reasons(self, name: str) -> list[tuple[str, str]]:
        c = self.conversation(name)
        return [(a.kind, a.reason) for a in self.db.scalars(
            select(Assignment).where(Assignment.conversation_id == c.id).order_by(Assignment.id))]

    def load(self, name: str) -> int:
        self.db.rollback()
        return len(self.db.scalars(select(Conversation.id).where(
            Conversation.agent_id == self.staff_ids[name], Conversation.status == "assigned")).all())

    def texts(self, name: str) -> list[str]:
        """Customer-service texts the person got (merged messages split back apart)."""
        return [piece for m in self.world.messages_to(self.account.appid, self.people[name].openid)
                if m["kind"] == "custom" and m["msgtype"] == "text" for piece in m["content"].split(SEPARATOR)]

    def sweep(self) -> None:
        """The minute sweep (workers/schedule.py), then the messages it queued."""
        with self.app.app_context():
            cs_jobs.sweep()
        self.jobs.run_all()


def cast(team: Team) -> Team:
    """门店A: 张三 (2), 李四 (1); 门店B: 赵六 (1); 总部: 王五 (1), the default agent. 张三 came
    on shift first, so he has been idle longest."""
    for name, store, capacity in (("张三", "A", 2), ("李四", "A", 1), ("赵六", "B", 1), ("王五", "HQ", 1)):
        team.agent(name, store, capacity, default=name == "王五")
        team.clock.advance(minutes=1)
    team.jobs.run_all()
    return team


@pytest.fixture
def team(app, db, phone, world, jobs, account, clock):
    return Team(app, db, phone, world, jobs, account, clock)
