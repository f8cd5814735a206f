"""The sandbox chat's commands: one line typed, one thing a phone does, what to show for it.

A mistake in a command gets its one-line usage, never a Python error; `{code}` in a line stands
for the code of the last SMS shown (so a script can bind a phone).
"""
import mimetypes
import shlex
import time
from pathlib import Path

from rq.registry import StartedJobRegistry

from bot.jobs import QUEUES
from bot.sandbox.errors import ApiError
from bot.sandbox.outbox import Watch
from bot.sandbox.phone import Phone

HELP = """commands:
  any text                 send it as a text message ({code}: the last SMS code shown)
  /follow [SCENE]          follow (through a QR code with SCENE)
  /scan SCENE              scan a QR code while following
  /click KEY               tap a menu button
  /unfollow                unfollow
  /location LAT LNG        send a location
  /image PATH, /voice PATH send a picture (png/jpg/gif) or a voice message (amr/mp3)
  /wait [SECONDS]          wait for what the bot is still sending (default 3)
  /help, /quit"""

USAGE = {"/follow": "/follow [SCENE]", "/scan": "/scan SCENE", "/click": "/click KEY",
         "/unfollow": "/unfollow", "/location": "/location LAT LNG", "/image": "/image PATH",
         "/voice": "/voice PATH", "/wait": "/wait [SECONDS]", "/help": "/help"}
SETTLE_TIMEOUT_S = 15


class ChatError(Exception):
    """A line the chat cannot act on; the message says what to do instead."""


def act(phone: Phone, watch: Watch, line: str) -> str | None:
    """Do what the line says; the text to show (a one-line hint for a mistake), or None."""
    try:
        return _act(phone, watch, line)
    except ChatError as exc:
        return f"  ? {exc}"


def _act(phone: Phone, watch: Watch, line: str) -> str | None:
    if "{code}" in line:
        if watch.last_code is None:
            raise ChatError("no SMS code has arrived yet; send 绑定 and a phone number first")
        line = line.replace("{code}", watch.last_code)
    if not line.startswith("/"):
        return _show(phone, watch, phone.text(line))
    try:
        words = shlex.split(line)
    except ValueError:
        raise ChatError("unbalanced quotes; /help lists the commands") from None
    command, args = words[0], words[1:]
    if command not in USAGE:
        raise ChatError(f"unknown command {command}; /help lists the commands")
    try:
        return _command(phone, watch, command, args)
    except (ValueError, IndexError):
        raise ChatError(f"usage: {USAGE[command]}") from None


def _command(phone: Phone, watch: Watch, command: str, args: list[str]) -> str | None:
    if command == "/help":
        return HELP
    if command == "/wait":
        time.sleep(min(float(args[0]) if args else 3.0, 60.0))
        return None
    if command == "/follow":
        return _show(phone, watch, phone.follow(args[0] if args else None))
    if command == "/scan":
        return _show(phone, watch, phone.scan(args[0]))
    if command == "/click":
        return _show(phone, watch, phone.click(args[0]))
    if command == "/unfollow":
        return _show(phone, watch, phone.unfollow())
    if command == "/location":
        return _show(phone, watch, phone.location(float(args[0]), float(args[1])))
    return _send_media(phone, watch, command[1:], args[0])


def _send_media(phone: Phone, watch: Watch, kind: str, path: str) -> str:
    """The person's file goes into WeChat's media store (as their phone's upload would), then the
    push names it by MediaId, as WeChat's image and voice pushes do (WECHAT-PLATFORM.md §3.1)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ChatError(f"no file {path}")
    data = file.read_bytes()
    content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    try:
        uploaded = watch.world.media_store.upload(phone.account.appid, kind, file.name, content_type,
                                                  len(data), data)
    except ApiError as error:
        raise ChatError(f"WeChat refuses that {kind}: {error.errmsg}") from None
    media_id = uploaded["media_id"]
    if kind == "image":
        fields = {"PicUrl": f"http://sandbox.invalid/media/{media_id}", "MediaId": media_id}
    else:
        fields = {"MediaId": media_id, "Format": file.suffix.lstrip(".").lower()}
    phone.send(kind, fields, user_event="message")
    return _show(phone, watch, phone.last.content)


def _show(phone: Phone, watch: Watch, content: str | None) -> str:
    reply = phone.last
    if reply.status != 200:
        return f"  (HTTP {reply.status}: {reply.body.decode(errors='replace')})"
    if content is not None:
        return "  " + content.replace("\n", "\n  ")
    fields = reply.fields or {}
    if reply.type in ("image", "voice"):
        media_id = (fields.get(reply.type.capitalize()) or {}).get("MediaId")
        saved = watch.save(media_id)
        return f"  [{'图片' if reply.type == 'image' else '语音'}] {saved or f'media {media_id}'}"
    if reply.type == "news":
        items = (fields.get("Articles") or {}).get("item") or []
        items = items if isinstance(items, list) else [items]
        return "  [图文] " + " | ".join(f"{i.get('Title', '')} {i.get('Url', '')}".strip() for i in items)
    return f"  ({reply.type} reply)" if reply.type else "  (no reply)"


def settle(app, timeout: float = SETTLE_TIMEOUT_S) -> None:
    """Wait until the rq queues are empty and no job is running (a script's next line then
    sees what the last one caused). With no worker, or a test's own Redis, nothing to wait for."""
    if app.config["JOBS_INLINE"]:
        app.extensions["jobs"].drain(timeout)
        return
    if app.config.get("REDIS") is not None:
        return
    jobs = app.extensions["jobs"]
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        busy = any(jobs.queue(name).count or StartedJobRegistry(queue=jobs.queue(name)).count
                   for name in QUEUES)
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= 0.3:
            return
        time.sleep(0.05)
