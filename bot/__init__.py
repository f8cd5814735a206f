"""The app factory: Flask app, Redis, database, job queue, dispatcher, WeChat transport."""
from pathlib import Path
from typing import Any, Mapping

import requests
from flask import Flask

from bot import config as settings
from bot.clock import Clock
from bot.jobs import JobQueue
from bot.logs import configure_logging
from models.db import make_engine, make_sessionmaker


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. `config` overrides the environment (tests pass REDIS, CLOCK, URLs...)."""
    cfg = settings.load(config)
    app = Flask(__name__, instance_path=str(cfg["INSTANCE_PATH"]))
    app.config.update(cfg)
    configure_logging(app)

    redis = cfg.get("REDIS") or _redis(cfg["REDIS_URL"], Path(app.instance_path))
    if cfg["DATABASE_URL"].startswith("sqlite:///"):
        Path(cfg["DATABASE_URL"][len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(cfg["DATABASE_URL"])
    # The common push's one statement (its event row) skips the pool's pre-ping round trip.
    event_engine = engine if engine.dialect.name == "sqlite" else make_engine(
        cfg["DATABASE_URL"], pre_ping=False, pool_size=2)

    from bot.routes import make_dispatcher, register_pages  # the one import of feature modules
    from bot.facts import install as flag_caches_on_write
    flag_caches_on_write()

    app.extensions.update(
        redis=redis,
        clock=cfg.get("CLOCK") or Clock(),
        engine=engine,
        event_engine=event_engine,
        db=make_sessionmaker(engine, info={"redis": redis}),
        jobs=JobQueue(redis, inline=cfg["JOBS_INLINE"], app=app),
        dispatcher=make_dispatcher(strict=cfg["STRICT_STATES"]),
        http=_http(app),
    )

    from bot.api import bp as api_bp
    from bot.linking.web import bp as link_bp
    from bot.webhook import bp as webhook_bp
    app.register_blueprint(webhook_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(link_bp)
    from bot.admin.api import mount as mount_admin_api
    mount_admin_api(app)
    register_pages(app)
    from bot.fast_webhook import FastWebhook
    app.wsgi_app = FastWebhook(app, app.wsgi_app)    # outermost: a push needs none of Flask
    if cfg["SANDBOX"]:
        from bot.sandbox.api import api_blueprint, oauth_blueprint
        app.register_blueprint(api_blueprint, url_prefix="/sandbox/api")
        app.register_blueprint(oauth_blueprint, url_prefix="/sandbox/open")
        from bot.sandbox.web import web_blueprint
        app.register_blueprint(web_blueprint, url_prefix="/sandbox")

    from bot.commands.table import mirror_all_to_sandbox, register_commands
    register_commands(app)
    if cfg["SANDBOX"]:
        mirror_all_to_sandbox(app)
    return app


def _redis(url: str | None, instance: Path):
    if url:
        from redis import Redis
        return Redis.from_url(url)
    # Embedded default: one real Redis in instance/redis/, shared by every process of the checkout.
    from bot import local_redis
    return local_redis.connect(instance / "redis")


def _http(app: Flask) -> requests.Session:
    """The HTTP session every WeChat call goes through; the in-process sandbox needs no socket."""
    http = requests.Session()
    sandbox_prefix = f"{app.config['PUBLIC_BASE_URL']}/sandbox/"
    if app.config["SANDBOX"] and app.config["WECHAT_API_BASE"].startswith(sandbox_prefix):
        from bot.sandbox.adapter import WSGIAdapter
        http.mount(sandbox_prefix, WSGIAdapter(app))
    return http
