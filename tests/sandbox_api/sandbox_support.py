"""What the sandbox API tests share: the four accounts and a client that speaks the API."""
import io
from typing import Any

from flask import Flask

API = "/sandbox/api"
AUTHORIZE = "/sandbox/open/connect/oauth2/authorize"

SERVICE = "wx_service"          # verified service account (HQ)
SUB = "wx_sub_verified"         # verified subscription account
SUB_RAW = "wx_sub_unverified"   # unverified subscription account
SERVICE_RAW = "wx_service_unverified"
ACCOUNTS = {
    SERVICE: ("service", True),
    SUB: ("subscription", True),
    SUB_RAW: ("subscription", False),
    SERVICE_RAW: ("service", False),
}


def secret_of(appid: str) -> str:
    """The AppSecret the fixture registers for an account."""
    return f"secret-of-{appid}"

class Api:
    """Calls the fake API like a WeChat client: JSON in, JSON out, a stable token per call."""

    def __init__(self, app: Flask):
        self.client = app.test_client()

    def token(self, appid: str = SERVICE, **extra: Any) -> dict[str, Any]:
        return self.post_raw("/cgi-bin/stable_token", {
            "grant_type": "client_credential", "appid": appid, "secret": secret_of(appid),
            **extra})

    def plain_token(self, appid: str = SERVICE, secret: str | None = None) -> dict[str, Any]:
        return self.get_raw("/cgi-bin/token", grant_type="client_credential", appid=appid,
                            secret=secret_of(appid) if secret is None else secret)

    def get(self, path: str, appid: str = SERVICE, **query: Any) -> dict[str, Any]:
        if "access_token" not in query:
            query["access_token"] = self.token(appid)["access_token"]
        return self.get_raw(path, **query)

    def post(self, path: str, body: Any, appid: str = SERVICE, **query: Any) -> dict[str, Any]:
        if "access_token" not in query:
            query["access_token"] = self.token(appid)["access_token"]
        return self.post_raw(path, body, **query)

    def get_raw(self, path: str, **query: Any) -> dict[str, Any]:
        response = self.client.get(API + path, query_string=query)
        assert response.status_code == 200
        return response.get_json()

    def post_raw(self, path: str, body: Any, **query: Any) -> dict[str, Any]:
        response = self.client.post(API + path, query_string=query, json=body)
        assert response.status_code == 200
        return response.get_json()

    def upload(self, appid: str, media_type: str, data: bytes, filename: str) -> dict[str, Any]:
        token = self.token(appid)["access_token"]
        response = self.client.post(
            API + "/cgi-bin/media/upload", query_string={"access_token": token, "type": media_type},
            data={"media": (io.BytesIO(data), filename)}, content_type="multipart/form-data")
        return response.get_json()

    def send_text(self, openid: str, content: str = "你好", appid: str = SERVICE) -> int:
        answer = self.post("/cgi-bin/message/custom/send", {
            "touser": openid, "msgtype": "text", "text": {"content": content}}, appid=appid)
        return errcode(answer)


def errcode(answer: dict[str, Any]) -> int:
    """WeChat leaves errcode out of many successful answers; that means 0."""
    return int(answer.get("errcode", 0))


def qr(action: str, scene: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"action_name": action, "action_info": {"scene": scene}, **extra}


def create_tag(api: Api, name: str, appid: str = SERVICE) -> dict[str, Any]:
    return api.post("/cgi-bin/tags/create", {"tag": {"name": name}}, appid=appid)


def tagging(api: Api, openids: list[str], tag_id: int, untag: bool = False) -> int:
    path = "/cgi-bin/tags/members/batch" + ("untagging" if untag else "tagging")
    return errcode(api.post(path, {"openid_list": openids, "tagid": tag_id}))
