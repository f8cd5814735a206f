"""WeChat's limits on a menu, checked before anything is sent (WECHAT-PLATFORM.md §4.5)."""
TOP_BUTTONS, SUB_BUTTONS = 3, 5              # 1–3 top buttons, 1–5 sub_button each
TOP_NAME_BYTES, SUB_NAME_BYTES = 16, 60      # 40018 past these (current doc; older said 40)
KEY_BYTES, URL_BYTES = 128, 1024             # 40027 for a long url
TYPES = {"click": "key", "view": "url", "scancode_push": "key", "scancode_waitmsg": "key",
         "pic_sysphoto": "key", "pic_photo_or_album": "key", "pic_weixin": "key",
         "location_select": "key", "media_id": "media_id", "article_id": "article_id",
         "article_view_limited": "article_id", "miniprogram": "url"}


def problems(buttons: list, where: str) -> list[str]:
    """Every way `buttons` breaks WeChat's rules, each naming the button."""
    if not isinstance(buttons, list):
        return [f"{where}: a list of 1 to {TOP_BUTTONS} top buttons, not {buttons!r}"]
    found = [] if 1 <= len(buttons) <= TOP_BUTTONS else [f"{where}: 1 to {TOP_BUTTONS} top buttons, not {len(buttons)}"]
    for button in buttons:
        name = button.get("name", "")
        at = f"{where} › {name or '(no name)'}"
        found += _name(name, TOP_NAME_BYTES, at)
        subs = button.get("sub_button")
        if subs is None:
            found += _leaf(button, at)
            continue
        if not 1 <= len(subs) <= SUB_BUTTONS:
            found.append(f"{at}: 1 to {SUB_BUTTONS} sub buttons, not {len(subs)}")
        for sub in subs:
            sub_at = f"{at} › {sub.get('name') or '(no name)'}"
            found += _name(sub.get("name", ""), SUB_NAME_BYTES, sub_at)
            found += _leaf(sub, sub_at)
    return found


def _name(name: str, limit: int, at: str) -> list[str]:
    size = len(name.encode())
    return [f"{at}: name is {size} bytes (1 to {limit})"] if not 0 < size <= limit else []


def _leaf(button: dict, at: str) -> list[str]:
    kind = button.get("type")
    if kind not in TYPES:
        return [f"{at}: type {kind!r} is not one of {', '.join(sorted(TYPES))}"]
    field = TYPES[kind]
    value = button.get(field, "")
    limit = KEY_BYTES if field == "key" else URL_BYTES if field == "url" else 1024
    if not value or len(value.encode()) > limit:
        return [f"{at}: {field} must be 1 to {limit} bytes"]
    return []
