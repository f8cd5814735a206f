"""Temporary media (素材) upload (WECHAT-PLATFORM.md §3.4, §5.1; New_temporary_materials.html).

Limits from that page: image ≤10 MB (bmp/png/jpeg/jpg/gif), voice ≤2 MB (amr/mp3), video ≤10 MB
(mp4), thumb ≤64 KB (jpg). WeChat judges the file by its name's extension, so an upload without
a file name answers 40005, as it does there. Media lives 3 days, its bytes with it (the phones show them).
"""
from typing import Any

from bot.sandbox import keys
from bot.sandbox.base import Backend, opaque
from bot.sandbox.errors import ApiError

MEDIA_LIFETIME_S = 3 * 24 * 3600
MB = 1024 * 1024

# type -> (allowed extensions, max bytes, errcode when too big)
MEDIA_RULES: dict[str, tuple[tuple[str, ...], int, int]] = {
    "image": (("bmp", "png", "jpeg", "jpg", "gif"), 10 * MB, 40009),
    "voice": (("amr", "mp3"), 2 * MB, 40010),
    "video": (("mp4",), 10 * MB, 40011),
    "thumb": (("jpg", "jpeg"), 64 * 1024, 40012),
}


class Media:
    """Uploading and looking up temporary media."""

    def __init__(self, backend: Backend):
        self.b = backend

    def upload(self, appid: str, media_type: str | None, filename: str | None,
               content_type: str | None, size: int | None, data: bytes | None = None) -> dict[str, Any]:
        """POST /cgi-bin/media/upload?type=... with multipart field "media"."""
        if media_type not in MEDIA_RULES:
            raise ApiError(40004, f"type must be one of {', '.join(MEDIA_RULES)}")
        if size is None:
            raise ApiError(41005, 'multipart field "media" is missing')
        extensions, max_bytes, too_big = MEDIA_RULES[media_type]
        extension = (filename or "").rsplit(".", 1)[-1].lower() if "." in (filename or "") else ""
        if extension not in extensions:
            raise ApiError(40005, f"{media_type} files must be .{'/.'.join(extensions)}")
        if size == 0 or size > max_bytes:
            raise ApiError(too_big, f"{media_type} must be 1..{max_bytes} bytes")
        media_id = opaque(48)
        created_at = int(self.b.now())
        record = {"type": media_type, "size": size, "filename": filename,
                  "content_type": content_type, "created_at": created_at}
        self.b.set_json(keys.sandbox_media(appid, media_id), record, keys.SANDBOX_MEDIA_TTL)
        if data:
            # Kept so a sandbox phone can show what the bot sent (WeChat serves it by media/get).
            self.b.redis.set(_bytes_key(appid, media_id), data, ex=keys.SANDBOX_MEDIA_TTL)
        return {"type": media_type, "media_id": media_id, "created_at": created_at}

    def get(self, appid: str, media_id: str) -> dict[str, Any] | None:
        """The stored media of that account if it has not expired (3 days), else None."""
        record = self.b.get_json(keys.sandbox_media(appid, media_id))
        if record is None or self.b.now() >= record["created_at"] + MEDIA_LIFETIME_S:
            return None
        return dict(record)

    def content(self, appid: str, media_id: str) -> bytes | None:
        """The uploaded bytes of live media, or None."""
        if self.get(appid, media_id) is None:
            return None
        data: bytes | None = self.b.redis.get(_bytes_key(appid, media_id))
        return data

    def require(self, appid: str, media_id: Any, media_type: str) -> None:
        """40007 unless media_id is live media of that account and type."""
        record = self.get(appid, media_id) if isinstance(media_id, str) else None
        if record is None or record["type"] != media_type:
            raise ApiError(40007)


def _bytes_key(appid: str, media_id: str) -> str:
    return keys.sandbox_media(appid, media_id) + ":bytes"
