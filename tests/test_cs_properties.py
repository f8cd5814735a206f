"""Property test of the customer-service engine (issue #6 Must show): random arrivals, closes,
transfers, shift and capacity changes and timeouts, one transaction per step as workers run
them, with the drain jobs the steps ask for. After every step:
  - no agent has more open conversations than their capacity;
  - a fan has at most one open conversation;
  - a conversation is assigned to exactly one agent, or waiting for none, and the latest
    assignment row names who has it; an agent's current conversation is one of theirs;
  - the queue is first in, first out and never idles: nobody gets room that an older waiting
    fan could have used, and once the drain jobs have run no waiting fan has an eligible agent
    with room (jobs run when the steps say, so arrivals meet room a close freed but no job used).
Every example has its own account, stores, agents and fans (no table is emptied between)."""
from hypothesis import HealthCheck, example, given, settings, strategies as st

from cs_sim import Sim

AGENT = st.tuples(st.integers(0, 1), st.integers(1, 2), st.booleans(),          # store, capacity, default,
                  st.sampled_from([True, True, False]))                          # on shift


@st.composite
def scenarios(draw):
    """Agents, fans (a store, or none) and steps naming only agents and fans that exist."""
    agents = draw(st.lists(AGENT, min_size=1, max_size=4))
    fans = draw(st.lists(st.sampled_from([0, 0, 1, None]), min_size=2, max_size=6))
    fan, agent = st.integers(0, len(fans) - 1), st.integers(0, len(agents) - 1)
    opening = st.tuples(st.just("open"), fan)
    closing = st.tuples(st.just("close"), fan, st.sampled_from(["agent", "fan"]))
    jobs = st.tuples(st.just("run_jobs"))
    ops = draw(st.lists(st.one_of(
        opening, opening, opening, closing, closing, jobs, jobs,
        st.tuples(st.just("shift"), agent, st.booleans()),
        st.tuples(st.just("transfer"), fan, st.integers(0, len(agents) + 1)),
        st.tuples(st.just("capacity"), agent),
        st.tuples(st.just("wait"), st.sampled_from([3, 6, 11, 31])),
    ), min_size=8, max_size=25))
    return agents, fans, ops


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
# A close frees room whose drain job has not run yet when another fan of the store arrives: the
# waiting fan gets it first.
@example(scenario=([(0, 1, False, True)], [0, 0, 0], [("open", 0), ("open", 1), ("close", 0, "agent"), ("open", 2)]))
def test_random_arrivals_closes_transfers_and_shifts_keep_the_invariants(app, clock, scenario):
    agents, fans, ops = scenario
    sim = Sim(app, clock, agents, fans)
    sim.check()
    for op in ops + [("run_jobs",)]:
        sim.step(op)
        sim.check()
