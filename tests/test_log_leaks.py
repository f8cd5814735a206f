"""The log check itself (tests/log_leaks.py): what it catches, and what it leaves alone."""
import logging

import pytest

from tests.log_leaks import LEAKS, Leaks


@pytest.fixture
def leaks():
    catcher = Leaks()
    catcher.learn("sample-secret", "Account.secret")
    catcher.codes.add("042917")
    logger = logging.getLogger("leak-check")
    logger.addHandler(catcher)
    yield logger, catcher
    logger.removeHandler(catcher)


@pytest.mark.parametrize("line", ["secret=sample-secret", "sms code 042917 sent", "bind phone=13800138000",
                                  "手机13800138000已绑定", "failed", ])
def test_each_kind_of_leak_is_caught(leaks, line):
    logger, catcher = leaks
    logger.warning("%s", line)
    LEAKS.found.clear()             # the suite-wide check saw it too; this test is about the handler
    assert bool(catcher.found) == (line != "failed")


@pytest.mark.parametrize("line", ["openid=o14969124622a1ad5376c86d44fc", "job 507f4cbc-5437-4d55-aaaf-19552352112a",
                                  "msg_id=7100000000000000001", "sms to 138****0000", "code 1042917 expired",
                                  "at=1763877900"])
def test_masked_phones_ids_and_longer_numbers_are_not_leaks(leaks, line):
    logger, catcher = leaks
    logger.info("%s", line)
    assert catcher.found == []


def test_a_secret_inside_a_logged_traceback_is_caught(leaks):
    logger, catcher = leaks
    try:
        raise RuntimeError("token fetch failed for secret sample-secret")
    except RuntimeError:
        logger.exception("job failed")
    LEAKS.found.clear()
    assert catcher.found and "Account.secret" in catcher.found[0]
