"""The web side of talking to WeChat: the OAuth authorize URL and code exchange (§4.11), and the
JS-SDK jsapi_ticket and page signature (§4.12). Like the access token (bot/wechat.py), the
ticket lives in Redis per AppID and only the holder of a lock fetches it.

wechatpy's WeChatOAuth keeps the user's token on the instance and calls absolute URLs with bare
requests (WECHAT-PLATFORM.md §6.2): the exchange here is one GET through the app's transport.
"""
import hashlib
import logging
from urllib.parse import quote

import requests
from redis import Redis

from bot import keys
from bot.wechat import Client, WeChatError

log = logging.getLogger(__name__)

AUTHORIZE_PATH = "/connect/oauth2/authorize"


def authorize_url(oauth_base: str, appid: str, redirect_uri: str, state: str) -> str:
    """WeChat's silent authorize page (snsapi_base: openid only, followers or not, §4.11)."""
    return (f"{oauth_base}{AUTHORIZE_PATH}?appid={appid}&redirect_uri={quote(redirect_uri, safe='')}"
            f"&response_type=code&scope=snsapi_base&state={state}#wechat_redirect")


def exchange_code(http: requests.Session, api_base: str, account, code: str,
                  timeout: float) -> dict:
    """GET /sns/oauth2/access_token: {openid, is_snapshotuser?, ...}; WeChatError otherwise.
    The user's own token is not kept: snsapi_base needs nothing but the openid."""
    url = f"{api_base}/sns/oauth2/access_token"
    params = {"appid": account.appid, "secret": account.secret, "code": code,
              "grant_type": "authorization_code"}
    try:
        answer = http.get(url, params=params, timeout=timeout).json()
    except (requests.RequestException, ValueError) as exc:
        # Not chained: the URL carries the secret and the code.
        raise WeChatError(None, f"code exchange failed: {type(exc).__name__}",
                          "/sns/oauth2/access_token") from None
    if answer.get("errcode"):
        raise WeChatError(answer["errcode"], answer.get("errmsg", ""), "/sns/oauth2/access_token")
    return answer


class TicketStore:
    """One jsapi_ticket per AppID in Redis, shared by every process ("cache globally", §4.12)."""

    def __init__(self, redis: Redis, client: Client):
        self.redis, self.client = redis, client
        self.key = keys.jsapi_ticket(client.appid)
        self.lock_key = keys.jsapi_ticket_lock(client.appid)

    def get(self) -> str:
        ticket = self.redis.get(self.key)
        if ticket:
            return ticket.decode()
        with self.redis.lock(self.lock_key, timeout=keys.TOKEN_LOCK_TTL,
                             blocking_timeout=keys.TOKEN_LOCK_TTL):
            ticket = self.redis.get(self.key)
            if ticket:
                return ticket.decode()     # somebody else fetched it while we waited
            log.info("fetching jsapi ticket appid=%s", self.client.appid)
            answer = self.client.get("ticket/getticket", params={"type": "jsapi"})
            # Refetch 5 minutes before WeChat's expiry (7200 s), like the access token.
            ttl = max(int(answer.get("expires_in", 7200)) - 300, 60)
            self.redis.set(self.key, answer["ticket"], ex=ttl)
            return answer["ticket"]


def jsapi_signature(ticket: str, noncestr: str, timestamp: int, url: str) -> str:
    """§4.12: keys sorted, `k=v` joined by `&` with raw values, SHA-1; the URL without `#...`."""
    url = url.split("#", 1)[0]
    plain = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}"
    return hashlib.sha1(plain.encode("utf-8")).hexdigest()
