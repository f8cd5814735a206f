"""Every log line of the suite, at DEBUG, checked for secrets and personal data (a pytest plugin,
loaded by tests/conftest.py). A test that logs one fails, naming the logger and what leaked.

What counts as a leak: an account's AppSecret, webhook token or EncodingAESKey (current or
previous), an integration's HMAC key, an access token the sandbox issued, an SMS code, and a
mainland mobile number not masked as 138****0000. The values are learnt as they come into being
(attribute events on the models, the sandbox's token issuer, the SMS text), so the check is a
few substring tests per record: cheap enough to run on every test.

SQLAlchemy's own statement logging stays at WARNING: at INFO it prints every bound parameter
(`echo`), an operator's explicit choice that this service never makes. So does the wire dump of
fakeredis's TCP server, which plays redis-server in a few tests.
"""
import logging
import re

import pytest
from sqlalchemy import event

import bot.binding.sms
import bot.scope
from bot.sandbox.tokens import Tokens
from models import Account, Integration

# A mainland mobile standing alone: not part of a longer number (MsgIds, timestamps) nor of an
# identifier (openids, job ids, hex digests hold such digit runs).
PHONE = re.compile(r"(?<![0-9A-Za-z_-])1[3-9][0-9]{9}(?![0-9A-Za-z_])")
CODE = r"(?<![0-9]){}(?![0-9])"
MIN_SECRET = 8          # shorter test values ("s", "tok") would match ordinary words


class Leaks(logging.Handler):
    """Collects what the current test logged that it must not have."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.secrets: dict[str, str] = {}      # value -> what it is
        self.codes: set[str] = set()
        self.found: list[str] = []

    def learn(self, value, what: str) -> None:
        if isinstance(value, str) and len(value) >= MIN_SECRET:
            self.secrets[value] = what

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:                      # a broken format string is not ours to judge here
            text = str(record.msg)
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        for value, what in self.secrets.items():
            if value in text:
                self.found.append(f"{record.name}: {what} in {text[:200]!r}")
        for code in self.codes:
            if re.search(CODE.format(code), text):
                self.found.append(f"{record.name}: an SMS code in {text[:200]!r}")
        phone = PHONE.search(text)
        if phone:
            self.found.append(f"{record.name}: unmasked phone {phone.group()[:3]}****{phone.group()[-4:]} "
                              f"in {text[:200]!r}")


LEAKS = Leaks()


def _watch(model, *names: str) -> None:
    for name in names:
        event.listen(getattr(model, name), "set",
                     lambda target, value, old, initiator, name=name: LEAKS.learn(value, f"{model.__name__}.{name}"),
                     propagate=True)


def pytest_configure(config):
    _watch(Account, "secret", "token", "aes_key", "previous_aes_key")
    _watch(Integration, "secret")
    issue = Tokens._issue

    def issued(self, appid, stream):
        token, expires_at = issue(self, appid, stream)
        LEAKS.learn(token, "an access token")
        return token, expires_at
    Tokens._issue = issued
    text_for = bot.binding.sms.text_for

    def sms_text(code: str) -> str:
        LEAKS.codes.add(code)
        return text_for(code)
    bot.binding.sms.text_for = sms_text
    new_token = bot.scope.new_token

    def operator_token() -> str:
        token = new_token()
        LEAKS.learn(token, "an operator's API token")
        return token
    bot.scope.new_token = operator_token
    root = logging.getLogger()
    root.addHandler(LEAKS)
    root.setLevel(logging.DEBUG)
    # fakeredis's TCP server (a test stand-in for redis-server) dumps the wire at DEBUG, as MONITOR would.
    for noisy in ("sqlalchemy.engine", "sqlalchemy.pool", "sqlalchemy.orm", "alembic", "fakeredis"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@pytest.fixture(autouse=True)
def no_secrets_in_logs():
    """Fails the test (at teardown) whose log lines carried a secret, a code or a phone."""
    LEAKS.found.clear()
    logging.getLogger().setLevel(logging.DEBUG)
    yield
    found, LEAKS.found = LEAKS.found, []
    LEAKS.codes.clear()
    if found:
        pytest.fail("secrets or personal data in the logs:\n" + "\n".join(dict.fromkeys(found)), pytrace=False)
