"""Every Redis key this service writes, one function each, with its TTL and why.

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
    """The fan's active conversation: JSON {flow, state, data, v}."""
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


# --- sandbox: the fake WeChat's own state (bot/sandbox). Every key starts with "sandbox:". ---
# World state (accounts, fans, tags, menus, permanent QR codes, kf accounts and sessions, id
# sequences, limit overrides) has no TTL on purpose: it plays WeChat's own database, which forgets
# nothing by itself; SandboxWeChat.reset() deletes every "sandbox:" key. Logical expiry (tokens,
# codes, windows, temp media) is decided by the injected clock, so each TTL below is only a
# real-time upper bound that frees memory and is always longer than the rule it backs.
SANDBOX_RECORD_TTL = 7 * 24 * 3600
SANDBOX_FAILURE_TTL = 24 * 3600
SANDBOX_QUOTA_TTL = 2 * 24 * 3600
SANDBOX_CS_WINDOW_TTL = 49 * 3600
SANDBOX_MEDIA_TTL = 3 * 24 * 3600
SANDBOX_OAUTH_CODE_TTL = 3600
SANDBOX_OAUTH_REFRESH_TTL = 31 * 24 * 3600


def sandbox_account(appid: str) -> str:
    """Hash: secret, type, verified, original_id of one fake WeChat account (no TTL)."""
    return f"sandbox:account:{appid}"


def sandbox_everything() -> str:
    """SCAN pattern matching every sandbox key (used by SandboxWeChat.reset)."""
    return "sandbox:*"


def sandbox_limits() -> str:
    """Hash: test/demo overrides of the sandbox's numeric limits, name -> int (no TTL)."""
    return "sandbox:limits"


def sandbox_calls() -> str:
    """List of JSON records, one per API call in arrival order; SANDBOX_RECORD_TTL, refreshed."""
    return "sandbox:calls"


def sandbox_failure(path: str, appid: str | None) -> str:
    """Hash: errcode, remaining, forever of one scripted failure; SANDBOX_FAILURE_TTL."""
    return f"sandbox:fail:{appid or '*'}:{path}"


def sandbox_failures() -> str:
    """SCAN pattern matching every scripted failure."""
    return "sandbox:fail:*"


def sandbox_token(token: str) -> str:
    """JSON {appid, stream, expires_at, retire_at} of one issued token; SANDBOX_RECORD_TTL."""
    return f"sandbox:token:{token}"


def sandbox_token_current(appid: str, stream: str) -> str:
    """The newest token of a stream ("token" or "stable"); SANDBOX_RECORD_TTL."""
    return f"sandbox:token-current:{appid}:{stream}"


def sandbox_stable_forced_at(appid: str) -> str:
    """Epoch of the last force_refresh stable_token call (30 s spacing rule); SANDBOX_QUOTA_TTL."""
    return f"sandbox:stable-forced-at:{appid}"


def sandbox_token_fetches(appid: str) -> str:
    """Counter of tokens handed out by token + stable_token; SANDBOX_RECORD_TTL."""
    return f"sandbox:token-fetches:{appid}"


def sandbox_quota(appid: str, name: str, day: str) -> str:
    """Counter of one daily quota on one Beijing-time day (YYYYMMDD); SANDBOX_QUOTA_TTL."""
    return f"sandbox:quota:{appid}:{name}:{day}"


def sandbox_ticket(appid: str, kind: str) -> str:
    """JSON {ticket, expires_at} of the JS-SDK ticket of one type; SANDBOX_RECORD_TTL."""
    return f"sandbox:ticket:{appid}:{kind}"


def sandbox_seq(appid: str, name: str) -> str:
    """Counter behind generated ids (tag ids, menuids, msgids, kf ids); no TTL: ids never repeat."""
    return f"sandbox:seq:{appid}:{name}"


def sandbox_fan(appid: str, openid: str) -> str:
    """Hash: following, subscribe_time, unionid, remark, subscribe_scene, qr_scene* (no TTL)."""
    return f"sandbox:fan:{appid}:{openid}"


def sandbox_followers(appid: str) -> str:
    """Sorted set (all scores 0, read by lex) of the openids following now (no TTL)."""
    return f"sandbox:followers:{appid}"


def sandbox_cs_window(appid: str, openid: str) -> str:
    """Hash: msg_until, msg_used, evt_until, evt_used (CS windows); SANDBOX_CS_WINDOW_TTL."""
    return f"sandbox:cswin:{appid}:{openid}"


def sandbox_inbox(appid: str, openid: str) -> str:
    """List of JSON messages delivered to one fan (custom and template); SANDBOX_RECORD_TTL."""
    return f"sandbox:inbox:{appid}:{openid}"


def sandbox_tags(appid: str) -> str:
    """Hash: tag id -> name of the account's own tags (no TTL)."""
    return f"sandbox:tags:{appid}"


def sandbox_fan_tags(appid: str, openid: str) -> str:
    """List of tag ids on one fan, in the order they were applied (no TTL)."""
    return f"sandbox:fan-tags:{appid}:{openid}"


def sandbox_tag_fans(appid: str, tag_id: int) -> str:
    """Sorted set (scores 0, read by lex) of the openids carrying one tag (no TTL)."""
    return f"sandbox:tag-fans:{appid}:{tag_id}"


def sandbox_menu(appid: str) -> str:
    """JSON {button, menuid} of the default menu (no TTL)."""
    return f"sandbox:menu:{appid}"


def sandbox_conditional_menus(appid: str) -> str:
    """Hash: menuid -> JSON {button, matchrule, menuid} of the conditional menus (no TTL)."""
    return f"sandbox:cmenus:{appid}"


def sandbox_qrcode(ticket: str) -> str:
    """JSON of one QR code; permanent codes have no TTL, temporary ones expire_seconds + 1 day."""
    return f"sandbox:qr:{ticket}"


def sandbox_permanent_scenes(appid: str) -> str:
    """Hash: "id:N" / "str:S" -> ticket of the permanent codes (no TTL: they are permanent)."""
    return f"sandbox:qr-perm:{appid}"


def sandbox_qrcode_tickets(appid: str) -> str:
    """List of every ticket the account created, oldest first; SANDBOX_RECORD_TTL, refreshed."""
    return f"sandbox:qr-tickets:{appid}"


def sandbox_media(appid: str, media_id: str) -> str:
    """JSON {type, size, filename, content_type, created_at} of one upload; SANDBOX_MEDIA_TTL."""
    return f"sandbox:media:{appid}:{media_id}"


def sandbox_kf_accounts(appid: str) -> str:
    """Hash: kf_account -> JSON {kf_account, nickname, kf_id, online} (no TTL)."""
    return f"sandbox:kf:{appid}"


def sandbox_kf_session(appid: str, openid: str) -> str:
    """JSON {kf_account, createtime} of the session serving one fan (no TTL: closed explicitly)."""
    return f"sandbox:kf-session:{appid}:{openid}"


def sandbox_kf_sessions(appid: str, kf_account: str) -> str:
    """Set of the openids one kf account is serving (no TTL: closed explicitly)."""
    return f"sandbox:kf-sessions:{appid}:{kf_account}"


def sandbox_kf_waiting(appid: str) -> str:
    """Sorted set openid -> epoch of fans waiting for a kf (no TTL: taken by kfsession/create)."""
    return f"sandbox:kf-waiting:{appid}"


def sandbox_oauth_code(code: str) -> str:
    """JSON {appid, openid, scope, issued_at} of one OAuth code; SANDBOX_OAUTH_CODE_TTL."""
    return f"sandbox:oauth-code:{code}"


def sandbox_oauth_token(token: str) -> str:
    """JSON {appid, openid, scope, expires_at} of one user OAuth token; SANDBOX_RECORD_TTL."""
    return f"sandbox:oauth-token:{token}"


def sandbox_oauth_refresh(refresh_token: str) -> str:
    """JSON {appid, openid, scope, expires_at} of a refresh token; SANDBOX_OAUTH_REFRESH_TTL."""
    return f"sandbox:oauth-refresh:{refresh_token}"


# --- staff posters (issue #5) ------------------------------------------------------------------
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


# 拉新 (issue #5): a manager's repeats within a minute (double clicks) make one chart; the value is
# our clock's epoch at the claim (handlers/recruit.py); the job clears it only after a failure.
RECRUIT_LOCK_TTL = 60


def recruit_lock(account: str, staff_id: int) -> str:
    return f"recruit:lock:{account}:{staff_id}"


# --- phone binding (issue #4) -----------------------------------------------------------------
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


# The console SMS backend's outbox (the sandbox chat shows it): recent texts, newest last.
SANDBOX_SMS_TTL = 24 * 3600


def sandbox_sms() -> str:
    return "sandbox:sms"


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
