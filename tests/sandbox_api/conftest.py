"""The sandbox's fake WeChat server API enforces WeChat's rules (WECHAT-PLATFORM.md §4, §5).

Each test drives the blueprints over HTTP with Flask's test client, the way the product's
WeChat client will, and moves a frozen clock for every time rule. These fixtures replace the
suite's app: only the sandbox blueprints, on their own in-process Redis.
"""
import fakeredis
import pytest
from flask import Flask

from bot.clock import FrozenClock
from bot.sandbox.api import api_blueprint, oauth_blueprint
from bot.sandbox.state import SandboxWeChat
from sandbox_support import ACCOUNTS, Api, secret_of


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    app.extensions["redis"] = fakeredis.FakeRedis()
    app.extensions["clock"] = FrozenClock()
    app.register_blueprint(api_blueprint, url_prefix="/sandbox/api")
    app.register_blueprint(oauth_blueprint, url_prefix="/sandbox/open")
    return app


@pytest.fixture
def clock(app: Flask) -> FrozenClock:
    return app.extensions["clock"]


@pytest.fixture
def wx(app: Flask) -> SandboxWeChat:
    sandbox = SandboxWeChat(app.extensions["redis"], app.extensions["clock"])
    for appid, (kind, verified) in ACCOUNTS.items():
        sandbox.register_account(appid, secret_of(appid), kind, verified, f"gh_{appid}")
    return sandbox


@pytest.fixture
def api(app: Flask, wx: SandboxWeChat) -> Api:
    return Api(app)
