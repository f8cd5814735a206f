"""Settings from the environment; every one optional, defaults are the embedded ones (DESIGN.md)."""
import os
from pathlib import Path
from typing import Any, Mapping

ROOT = Path(__file__).resolve().parent.parent
REAL_API_BASE = "https://api.weixin.qq.com"
REAL_OAUTH_BASE = "https://open.weixin.qq.com"


def _flag(value: str | None, default: bool | None) -> bool | None:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Flask config: environment first, then `overrides` (tests), then derived defaults."""
    env = os.environ
    # The embedded mode's files: SQLite, the Redis server, logs, sandbox media (tests use their own).
    instance = Path(env.get("INSTANCE_PATH") or ROOT / "instance")
    cfg: dict[str, Any] = {
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{instance / 'bot.sqlite3'}",
        "REDIS_URL": env.get("REDIS_URL") or None,
        "PUBLIC_BASE_URL": (env.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
        "SANDBOX": _flag(env.get("SANDBOX"), True),
        "SECRET_KEY": env.get("SECRET_KEY"),
        "SMS_BACKEND": env.get("SMS_BACKEND") or "console",
        "SMS_HTTP_URL": env.get("SMS_HTTP_URL"),
        "SMS_HTTP_TOKEN": env.get("SMS_HTTP_TOKEN"),          # sent as a Bearer token, if set
        "SMS_HTTP_TIMEOUT": float(env.get("SMS_HTTP_TIMEOUT") or 5),
        "WECHAT_API_BASE": env.get("WECHAT_API_BASE"),
        "WECHAT_OAUTH_BASE": env.get("WECHAT_OAUTH_BASE"),
        "WECHAT_HTTP_TIMEOUT": float(env.get("WECHAT_HTTP_TIMEOUT") or 5),
        "JOBS_INLINE": _flag(env.get("JOBS_INLINE"), None),   # None: decided below
        # Log lines of INFO reach the terminal too (else only instance/log/bot.log).
        "VERBOSE": _flag(env.get("VERBOSE"), False),
        # Off in the embedded worker and cron children (bot/embedded.py): their terminal is
        # instance/log/worker.log or cron.log, so a terminal handler would write each line twice.
        "LOG_TERMINAL": _flag(env.get("LOG_TERMINAL"), True),
        # Staff posters' backgrounds, one per store: "<store code>.png" (or .jpg); else a default.
        "POSTER_DIR": env.get("POSTER_DIR") or str(instance / "posters"),
        # Customer service timeouts: an open conversation with no message for this long
        # closes; an agent who has not answered a new one is reminded, then it goes to another.
        "CS_IDLE_CLOSE_MINUTES": int(env.get("CS_IDLE_CLOSE_MINUTES") or 30),
        "CS_REMIND_MINUTES": int(env.get("CS_REMIND_MINUTES") or 5),
        "CS_REASSIGN_MINUTES": int(env.get("CS_REASSIGN_MINUTES") or 10),
        # A step returning a state its flow does not declare: an error in tests, a warning in
        # production (the flow ends).
        "STRICT_STATES": False,
        # Seconds after a push arrives past which its passive reply may no longer reach WeChat
        # (it waits 5 s, WECHAT-PLATFORM.md §2; the rest is for commit and the wire): messages
        # waiting for the fan are then left pending rather than put in a reply nobody may get.
        "PASSIVE_BUDGET_S": 4.0,
        # A delivery job's claim on messages older than this belongs to a run that died inside a
        # call to WeChat (one run's calls take seconds): they are UNCONFIRMED, never sent again.
        "DELIVERY_CLAIM_LEASE_S": float(env.get("DELIVERY_CLAIM_LEASE_S") or 300),
        # The slug of the group's service account, where subscription fans are led (mall, codes,
        # customer service); unset: the first verified service account (bot/linking/hq.py).
        "SERVICE_ACCOUNT": env.get("SERVICE_ACCOUNT") or None,
        # Past this (the lock wait included) a push is acknowledged and finished by a worker
        # (bot/overload.py): a passive reply started later could miss WeChat's 5 s (§2).
        "DEFER_AFTER_S": float(env.get("DEFER_AFTER_S") or 2.0),
        # WeChat answers a body over 1 MB never; anything larger is not from WeChat.
        "MAX_CONTENT_LENGTH": 1024 * 1024,
    }
    cfg.update(overrides or {})
    sandbox_base = f"{cfg['PUBLIC_BASE_URL']}/sandbox"
    if not cfg["WECHAT_API_BASE"]:
        cfg["WECHAT_API_BASE"] = f"{sandbox_base}/api" if cfg["SANDBOX"] else REAL_API_BASE
    if not cfg["WECHAT_OAUTH_BASE"]:
        cfg["WECHAT_OAUTH_BASE"] = f"{sandbox_base}/open" if cfg["SANDBOX"] else REAL_OAUTH_BASE
    cfg["WECHAT_API_BASE"] = cfg["WECHAT_API_BASE"].rstrip("/")
    if cfg["JOBS_INLINE"] is None:
        # Jobs go to rq everywhere, the embedded mode included: its Redis is a real server shared
        # by every process (bot/local_redis.py), and `make run` runs the worker.
        cfg["JOBS_INLINE"] = False
    if cfg["SMS_BACKEND"] not in ("console", "http"):
        raise RuntimeError("SMS_BACKEND is console or http")
    if cfg["SMS_BACKEND"] == "http" and not cfg["SMS_HTTP_URL"]:
        raise RuntimeError("SMS_BACKEND=http needs SMS_HTTP_URL")
    if not cfg["SECRET_KEY"]:
        if not (cfg["SANDBOX"] or cfg.get("TESTING")):
            raise RuntimeError("SECRET_KEY must be set when the sandbox is off")
        cfg["SECRET_KEY"] = "sandbox-only-secret"
    return cfg
