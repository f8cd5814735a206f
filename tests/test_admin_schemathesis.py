"""The admin API against its own OpenAPI description (schemathesis): for every operation,
generated requests, valid ones and invalid ones, never get a 500, and every response matches
the description (status code, content type, body). The examples per operation are few, so the
whole run stays under a minute; `--hypothesis-profile=explore` draws fresh ones."""
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode

from bot.admin.api import PREFIX
from bot.admin.listings import LISTINGS

EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 3}


def operations(app, headers=None):
    schema = schemathesis.openapi.from_wsgi(PREFIX + "/openapi.json", app)
    if headers:
        schema.config.update(headers=headers)
    return [result.ok() for result in schema.get_all_operations()]


def test_every_operation_is_described_and_tested(app):
    described = {(op.method.upper(), op.path) for op in operations(app)}
    assert ("POST", "/members/{member_id}/points") in described and ("GET", "/fans.csv") in described
    assert ("GET", "/surveys/{code}/responses.csv") in described
    assert ("GET", "/reports/funnel.png") in described and ("GET", "/reports/followers") in described
    # each listing and its export, a member's ledger, a transcript, a survey's responses and their
    # export, QR stats, four writes, and six reports with their charts
    assert len(described) == 2 * len(LISTINGS) + 9 + 2 * 6


@pytest.mark.parametrize("mode", list(EXAMPLES))
def test_the_api_keeps_to_its_description(app, operators, mode):
    for operation in operations(app, operators.auth("c1admin")):
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES[mode], deadline=None, suppress_health_check=list(HealthCheck))
        def keeps_to_it(case):
            case.call_and_validate()
        keeps_to_it()
