"""Every Redis key this service writes, one function each, with its TTL and why (the sandbox's
own keys are in bot/sandbox/keys.py).

Every key carries the account slug (or AppID), so state can shard by account past one Redis
(DESIGN.md, operator contract). No module builds a key string anywhere else.
"""

# WeChat re-sends a push it got no answer to within 5 s, three deliveries in all, ~15 s apart at
# most (WECHAT-PLATFORM.md §2). We keep the fingerprint for 120 s: comfortably past the retry
# window. Value: "pending" while the first delivery runs, then the rendered reply body.
SEEN_TTL = 120


def seen(account: str, fingerprint: str) -> str:
    """Dedup marker and cached reply of one push (MsgId, or openid+CreateTime+Event+EventKey)."""
    return f"seen:{account}:{fingerprint}"


# Held only while one push of this fan is handled (well under a second); the TTL only frees a
# lock whose holder died.
FAN_LOCK_TTL = 10


def fan_lock(account: str, openid: str) -> str:
    """Serialises one fan's pushes so two never interleave."""
    return f"lock:fan:{account}:{openid}"


# An abandoned conversation ends by expiry: the next message starts fresh (STYLE.md 7.3).
CONVERSATION_TTL = 15 * 60


def conversation(account: str, openid: str) -> str:
    """The fan's active conversation: JSON {state: "<flow>:<step>", data, v} (bot/sessions.py)."""
    return f"conv:{account}:{openid}"


def access_token(appid: str) -> str:
    """The account's access token, shared by every process; TTL = WeChat's expires_in less a margin."""
    return f"wx:token:{appid}"


# Long enough for one stable_token round trip with its timeout (5 s), short enough that a dead
# holder does not stall other processes for long.
TOKEN_LOCK_TTL = 10


def access_token_lock(appid: str) -> str:
    """Only the holder fetches a token; everybody else waits and re-reads (no stampede)."""
    return f"wx:token-lock:{appid}"


def jsapi_ticket(appid: str) -> str:
    """The account's JS-SDK jsapi_ticket, shared like the token; TTL = expires_in less a margin."""
    return f"wx:jsapi-ticket:{appid}"


def jsapi_ticket_lock(appid: str) -> str:
    """Only the holder fetches a ticket (getticket is rationed, §4.12); TOKEN_LOCK_TTL."""
    return f"wx:jsapi-ticket-lock:{appid}"


# --- H5 pages (WECHAT-PLATFORM.md §4.11): OAuth state and code, the binding prompt -------------
# A state lives as long as a person may take on WeChat's authorize page; a code lives 5 minutes
# (§4.11), so its exchange record outlives it a little (the double hit comes within seconds).
H5_STATE_TTL = 10 * 60
H5_CODE_TTL = 6 * 60
# Reloading the "bind first" page within this long sends the chat prompt once.
H5_BIND_PROMPT_TTL = 10 * 60


def h5_state(account: str, nonce: str) -> str:
    """JSON {next, browser} of one OAuth round trip we started; H5_STATE_TTL."""
    return f"h5:state:{account}:{nonce}"


def h5_state_used(account: str, nonce: str) -> str:
    """The code digest that first came back with this state (a replay brings another); H5_STATE_TTL."""
    return f"h5:state-used:{account}:{nonce}"


def h5_code(account: str, digest: str) -> str:
    """JSON {browser, openid?, snapshot?, error?} of one code's exchange, by sha256; H5_CODE_TTL."""
    return f"h5:code:{account}:{digest}"


def h5_bind_prompt(account: str, openid: str) -> str:
    """Set when the chat prompt to bind was queued for this fan from an H5 page; H5_BIND_PROMPT_TTL."""
    return f"h5:bind-prompt:{account}:{openid}"


# Customer-service windows (WECHAT-PLATFORM.md §4.7): a user message opens 5 messages / 48 h;
# a click, follow or scan opens 3 messages / 1 min. The hash lives as long as the longer window.
CS_WINDOW_TTL = 48 * 3600


def cs_window(account: str, openid: str) -> str:
    """Hash: msg_until, msg_used, evt_until, evt_used (epoch seconds and counts)."""
    return f"cswin:{account}:{openid}"


# An account's settings change rarely and only through the accounts CLI, which deletes this key;
# the TTL bounds how long a change made behind the CLI's back (an SQL edit) goes unseen.
ACCOUNT_TTL = 60


def account(slug: str) -> str:
    """JSON of the account row served at /wechat/<slug> ({} for no such account)."""
    return f"account:{slug}"


# --- staff posters ------------------------------------------------------------------
# A staff member's repeats of 海报 within this long (double clicks) make one job; the job clears
# it only when it failed for good, so asking again right after a failure works at once.
POSTER_LOCK_TTL = 60


def poster_lock(account: str, staff_id: int) -> str:
    """Epoch (our clock) at which a poster job for this staff member on this account was queued."""
    return f"poster:lock:{account}:{staff_id}"


# Temporary media live 3 days (WECHAT-PLATFORM.md §3.4). Reuse is decided by the stored upload
# time against the injected clock (workers/posters.py); the TTL only frees the memory after.
POSTER_MEDIA_TTL = 3 * 24 * 3600


def poster_media(account: str, staff_id: int) -> str:
    """JSON {media_id, uploaded_at, fingerprint} of this staff member's last uploaded poster."""
    return f"poster:media:{account}:{staff_id}"


# 拉新: a manager's repeats within a minute (double clicks) make one chart; the value is
# our clock's epoch at the claim (handlers/recruit.py); the job clears it only after a failure.
RECRUIT_LOCK_TTL = 60


def recruit_lock(account: str, staff_id: int) -> str:
    return f"recruit:lock:{account}:{staff_id}"


# A manager's 报表 chart being made: asked again within the TTL, only the text comes.
REPORT_LOCK_TTL = 60


def report_lock(account: str, staff_id: int) -> str:
    return f"report:lock:{account}:{staff_id}"


# --- phone binding -----------------------------------------------------------------
# The verification code a fan was sent: {phone, code, sent_at, wrong}. Its TTL is the code's life.
SMS_CODE_TTL = 5 * 60


def sms_code(account: str, openid: str) -> str:
    return f"sms:code:{account}:{openid}"


# Codes sent today (China date in the key) to one phone, and to one fan; kept two days so a
# counter never outlives its day by much, whatever the server's time zone.
SMS_DAILY_TTL = 2 * 24 * 3600


def sms_daily_phone(phone: str, day: str) -> str:
    return f"sms:day:{day}:phone:{phone}"


def sms_daily_fan(account: str, openid: str, day: str) -> str:
    return f"sms:day:{day}:fan:{account}:{openid}"


# A gentle reminder to follow the service account, at most once a week per fan (handlers/linking.py);
# the TTL is the week (bot/claims.py reads the stamp against our clock as well).
LINK_REMINDER_TTL = 7 * 24 * 3600


def link_reminder(account: str, openid: str) -> str:
    """Set when an unlinked member of a subscription account was last reminded."""
    return f"link:remind:{account}:{openid}"


# Wrong SMS codes typed on a survey's last page, per person; lives as long as a code does.
SURVEY_WRONG_CODES_TTL = SMS_CODE_TTL


def survey_wrong_codes(account: str, openid: str) -> str:
    return f"survey:wrong-codes:{account}:{openid}"


# --- the hot path's caches (bot/facts.py). Each may only ever say "maybe": a missing or
# mismatched entry sends the reader to the database, so expiry and a lost Redis cost a query,
# never a message. Keyed by account id: the writers that invalidate them know only the row.
# How long a fan's checked facts are trusted without a change: bounds how long a row committed
# by a process that died before its post-commit flag waits for the next check.
FACTS_TTL = 10 * 60


def fan_facts(account_id: int, openid: str) -> str:
    """Hash: gen (bumped by every writer of the fan, its pending messages, its conversation),
    checked (the gen the database was read at), fan, member, staff (the staff epoch then)."""
    return f"facts:{account_id}:{openid}"


def staff_epoch() -> str:
    """Counter bumped by every staff change (who is an agent). Staff is group-wide, so the key
    carries no account. No TTL: a reset would re-trust facts checked before a staff change."""
    return "facts:staff-epoch"


# Keyword lists change only by the keywords CLI; the TTL frees accounts nobody writes to.
KEYWORDS_TTL = 24 * 3600


def keyword_list(account_id: int) -> str:
    """Hash: gen (bumped by every keyword write), checked, rows (JSON [[keyword, match, reply]])."""
    return f"keywords:{account_id}"


# --- pushes acknowledged late (bot/overload.py) --------------------------------------------------
def deferred_pushes(account: str) -> str:
    """Stream of the account's pushes acknowledged without an answer, each `xml`, read by the
    consumer group of its finishers (workers/pushes.py); entries are deleted once finished."""
    return f"deferred:{account}"


def finisher_asked(account: str, slot: int) -> str:
    """Set while a finisher run for this slot is queued and not yet started (COALESCE_TTL_S)."""
    return f"deferred-asked:{account}:{slot}"
