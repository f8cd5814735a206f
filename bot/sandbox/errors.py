"""WeChat's error answers: the exception the sandbox raises and the errmsg texts WeChat sends.

Texts follow the global return-code page (/doc/offiaccount/Getting_Started/Global_Return_Code.html)
and the per-API pages cited in WECHAT-PLATFORM.md §4.15.
"""

ERRMSG: dict[int, str] = {
    -1: "system error",
    10003: "redirect_uri domain mismatch",
    10005: "no scope permission",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40004: "invalid media type",
    40005: "invalid file type",
    40007: "invalid media_id",
    40008: "invalid message type",
    40009: "invalid image size",
    40010: "invalid voice size",
    40011: "invalid video size",
    40012: "invalid thumb size",
    40013: "invalid appid",
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40020: "invalid button url size",
    40022: "invalid sub button level",
    40023: "invalid sub button size",
    40024: "invalid sub button type",
    40025: "invalid sub button name size",
    40026: "invalid sub button key size",
    40027: "invalid sub button url size",
    40029: "invalid code",
    40030: "invalid refresh_token",
    40032: "invalid openid list size",
    40037: "invalid template_id",
    40053: "invalid action info",
    40066: "invalid url",
    40097: "invalid args",
    40125: "invalid appsecret",
    40164: "invalid ip, not in whitelist",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41005: "media data missing",
    41008: "missing code",
    42001: "access_token expired",
    42002: "refresh_token expired",
    43001: "require GET method",
    43002: "require POST method",
    43004: "require subscribe",
    44002: "empty post data",
    44004: "empty content",
    45002: "content size out of limit",
    45008: "article size out of limit",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    45056: "too many tags",
    45057: "can't delete the tag that has too many fans",
    45058: "can't modify sys tag",
    45059: "too many tags on one fan",
    45157: "invalid tag name",
    45158: "tag name too long",
    45159: "invalid tag id",
    46003: "menu no exist",
    47001: "data format error",
    48001: "api unauthorized",
    61451: "invalid parameter",
    61452: "invalid kf_account",
    61458: "customer has been accepted by another kf",
    61459: "kf is offline",
    65301: "no such conditional menu",
    65302: "no such user",
    65303: "there is no selfmenu, please create selfmenu first",
    65304: "match rule empty",
    65316: "conditional menus link to more than 3 domains",
    65320: "match rule field is no longer supported",
    65401: "invalid kf_account",
    65403: "invalid nickname",
    65404: "invalid kf_account format",
    65405: "kf account count reaches limit",
    65406: "kf_account exists",
}


class ApiError(Exception):
    """One WeChat error answer: {"errcode": N, "errmsg": "..."} with HTTP 200."""

    def __init__(self, errcode: int, detail: str = ""):
        self.errcode = errcode
        base = ERRMSG.get(errcode, "sandbox scripted failure")
        self.errmsg = f"{base} hint: [sandbox] {detail}" if detail else base
        super().__init__(f"{errcode} {self.errmsg}")

    def answer(self) -> dict[str, object]:
        """The JSON body WeChat would send."""
        return {"errcode": self.errcode, "errmsg": self.errmsg}
