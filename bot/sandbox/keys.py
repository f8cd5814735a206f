"""The sandbox's Redis keys (the fake WeChat's own state), one function each, with its TTL and why.

Every key starts with "sandbox:", so the sandbox never shares a key with the service (bot/keys.py)
and SandboxWeChat.reset() can delete them all.

World state (accounts, fans, tags, menus, permanent QR codes, kf accounts and sessions, id
sequences, limit overrides) has no TTL on purpose: it plays WeChat's own database, which forgets
nothing by itself; SandboxWeChat.reset() deletes every "sandbox:" key. Logical expiry (tokens,
codes, windows, temp media) is decided by the injected clock, so each TTL below is only a
real-time upper bound that frees memory and is always longer than the rule it backs.
"""
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


def sandbox_news(appid: str) -> str:
    """Hash: news media_id -> JSON articles uploaded for mass sends (no TTL: like permanent media)."""
    return f"sandbox:news:{appid}"


def sandbox_mass_client_ids(appid: str) -> str:
    """Hash: clientmsgid -> msg_id of the mass send made with it (no TTL: dedup must outlive retries)."""
    return f"sandbox:mass-client-ids:{appid}"


def sandbox_mass_days(appid: str) -> str:
    """Hash: Beijing date -> successful mass sends that day (no TTL; a few entries a year)."""
    return f"sandbox:mass-days:{appid}"


def sandbox_mass_received(appid: str, openid: str, month: str) -> str:
    """Count of mass messages one fan received in a Beijing month (TTL 40 days, bot/sandbox/mass.py)."""
    return f"sandbox:mass-received:{appid}:{openid}:{month}"


def sandbox_mass_finished(appid: str) -> str:
    """List of JSON MASSSENDJOBFINISH events not delivered yet (no TTL: taken when delivered)."""
    return f"sandbox:mass-finished:{appid}"


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


# The console SMS backend's outbox (bot/binding/sms.py; the sandbox chat shows it): recent texts, newest last.
SANDBOX_SMS_TTL = 24 * 3600


def sandbox_sms() -> str:
    return "sandbox:sms"
