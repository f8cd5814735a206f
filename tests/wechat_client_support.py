"""What the WeChat client tests share: a client built the way workers build one, and views of
what the sandbox saw (token fetches, calls of one API)."""
from bot import keys
from bot.wechat import Client, make_client

STABLE_TOKEN = "/cgi-bin/stable_token"
TAGS_GET = "/cgi-bin/tags/get"
CUSTOM_SEND = "/cgi-bin/message/custom/send"


def client_for(app, account, api_base: str | None = None) -> Client:
    """make_client exactly as JobCtx.client calls it (optionally against another API base)."""
    cfg, ext = app.config, app.extensions
    return make_client(account, ext["redis"], ext["http"], api_base or cfg["WECHAT_API_BASE"],
                       cfg["WECHAT_HTTP_TIMEOUT"])


def stable_token_calls(world, appid: str) -> list[bool]:
    """The force_refresh flag of every stable_token call the account made, in order."""
    return [call["body"]["force_refresh"] for call in world.calls(STABLE_TOKEN, appid)]


def api_calls(world, path: str) -> list[tuple[int, str]]:
    """(errcode, access_token) of every call of one API, in order."""
    return [(call["errcode"], call["query"].get("access_token")) for call in world.calls(path)]


def shared_token(redis, appid: str) -> str | None:
    """The token every process reads for that account."""
    raw = redis.get(keys.access_token(appid))
    return raw.decode() if raw else None
