"""A phone's browser for the H5 pages, through Flask's test client: its own cookie jar, WeChat's
OAuth played by the sandbox's authorize page (`?openid=...&confirm=1` approves as that person).
"""
import re
from urllib.parse import parse_qs, urlsplit

from bot.sandbox.phone import sandbox_openid

AUTHORIZE = "/sandbox/open/connect/oauth2/authorize"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """One browser (one cookie jar) of the person `openid`."""

    def __init__(self, app, openid: str):
        self.app, self.openid = app, openid
        self.client = app.test_client()
        self.base = app.config["PUBLIC_BASE_URL"]
        self.last = None

    def local(self, url: str) -> str:
        return url[len(self.base):] if url.startswith(self.base) else url

    def authorize_url(self, path: str) -> str:
        """Open `path` without a session: where the page sends us (WeChat's authorize page)."""
        response = self.client.get(path)
        assert response.status_code == 302, response.status_code
        assert AUTHORIZE in response.location, response.location
        return self.local(response.location)

    def approve(self, authorize_url: str, snapshot: bool = False) -> str:
        """Approve on the authorize page as this person: the callback URL with code and state."""
        url, _, _fragment = authorize_url.partition("#")
        extra = f"&openid={self.openid}&confirm=1" + ("&snapshot=1" if snapshot else "")
        response = self.client.get(url + extra)
        assert response.status_code == 302, response.get_data(as_text=True)
        return self.local(response.location)

    def follow(self, response):
        while response.status_code in (301, 302, 303):
            location = self.local(response.location)
            if AUTHORIZE in location:
                location = self.approve(location)
            response = self.client.get(location)
        self.last = response
        return response

    def get(self, path: str):
        """GET like a phone: through OAuth when needed, following every redirect."""
        return self.follow(self.client.get(path))

    def post(self, path: str, data: dict, csrf: bool = True):
        """POST a form; with the CSRF token of the page shown last unless csrf=False."""
        data = dict(data)
        if csrf:
            data["csrf_token"] = CSRF.search(self.last.get_data(as_text=True)).group(1)
        return self.follow(self.client.post(path, data=data))

    def text(self) -> str:
        return self.last.get_data(as_text=True)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def browser_of(app, person) -> Browser:
    """The browser of a sandbox phone (a tests.conftest `phone`)."""
    return Browser(app, person.openid)


__all__ = ["Browser", "browser_of", "query_of", "sandbox_openid"]
