"""A WeChat webview in Debian's headless Chromium for the H5 browser tests: the binary, its
arguments, a phone's size and WeChat's user agent, a stubbed jweixin, signing in through the
sandbox's authorize page. The app they drive is conftest's `app` marked `served` (over HTTP),
with conftest's `chromium_env` (a Chinese font for the screenshots)."""
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE_VIEWPORT = {"width": 375, "height": 812}
WECHAT_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN")
# jweixin stand-in: records what the page asks of the JS-SDK (§4.12), calls ready at once.
JWEIXIN_STUB = """window.__wx = {config: null, shared: [], closed: 0};
window.wx = {config: function (c) { window.__wx.config = c; },
  ready: function (f) { setTimeout(f, 0); }, error: function () {},
  updateAppMessageShareData: function (d) { window.__wx.shared.push(['friend', d]); },
  updateTimelineShareData: function (d) { window.__wx.shared.push(['timeline', d]); },
  closeWindow: function () { window.__wx.closed += 1; }};"""


def phone_page(browser, openid):
    """A WeChat webview: phone size, WeChat's UA, jweixin stubbed, the sandbox knows who it is."""
    context = browser.new_context(viewport=PHONE_VIEWPORT, user_agent=WECHAT_UA, is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    context.route("https://res.wx.qq.com/**", lambda route: route.fulfill(
        status=200, content_type="application/javascript", body=JWEIXIN_STUB))
    page = context.new_page()
    return context, page


def sign_in(page, base, openid, path):
    """Open `path`; WeChat's authorize page (the sandbox's) signs in as `openid`."""
    page.goto(f"{base}{path}")
    page.fill('input[name="openid"]', openid)
    page.click("text=允许")
