"""The record of every call the sandbox answered, and the failures tests script in advance."""
import json
from typing import Any

from bot.sandbox import keys
from bot.sandbox.base import Backend

# A long `make run` must not grow the record without bound; tests never come near this.
MAX_CALLS = 100_000
SECRET_FIELDS = ("secret",)
MASK = "***"


def masked(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy with AppSecrets replaced by "***": the record is shown in logs and tests."""
    if values is None:
        return None
    return {k: (MASK if k in SECRET_FIELDS and v else v) for k, v in values.items()}


class Recorder:
    """Recording calls and answering scripted failures."""

    def __init__(self, backend: Backend):
        self.b = backend

    def record(self, path: str, method: str, appid: str | None, query: dict[str, Any],
               body: dict[str, Any] | None, errcode: int,
               files: dict[str, Any] | None = None) -> None:
        """Append one call to the record (secrets masked)."""
        entry = {"path": path, "method": method, "appid": appid, "query": masked(query),
                 "body": masked(body), "errcode": errcode, "at": self.b.now(),
                 "files": files or {}}
        key = keys.sandbox_calls()
        pipe = self.b.redis.pipeline()
        pipe.rpush(key, json.dumps(entry, ensure_ascii=False))
        pipe.ltrim(key, -MAX_CALLS, -1)
        pipe.expire(key, keys.SANDBOX_RECORD_TTL)
        pipe.execute()

    def calls(self, path: str | None = None, appid: str | None = None) -> list[dict[str, Any]]:
        """Every recorded call in order, optionally only one path and/or one account."""
        path = _normal(path) if path else None
        entries = [json.loads(raw) for raw in self.b.redis.lrange(keys.sandbox_calls(), 0, -1)]
        return [e for e in entries
                if (path is None or e["path"] == path) and (appid is None or e["appid"] == appid)]

    def fail_next(self, path: str, errcode: int, times: int = 1, appid: str | None = None) -> None:
        """Script the next `times` calls of path (for appid, or any account) to answer errcode."""
        if times == 0 or times < -1:
            raise ValueError("times must be a positive count, or -1 for forever")
        key = keys.sandbox_failure(_normal(path), appid)
        self.b.redis.delete(key)
        self.b.redis.hset(key, mapping={"errcode": errcode, "remaining": max(times, 0),
                                        "forever": int(times == -1)})
        self.b.redis.expire(key, keys.SANDBOX_FAILURE_TTL)

    def hang_next(self, path: str, seconds: float, appid: str | None = None, after: int = 0) -> None:
        """Script the next call of path (or the one after `after` calls answered as usual) to
        take effect, then keep its caller waiting `seconds` for the answer: what a process
        killed in the middle of a call leaves behind."""
        if after < 0:
            raise ValueError("after must be a count of calls, 0 or more")
        key = keys.sandbox_failure(_normal(path), appid)
        self.b.redis.delete(key)
        self.b.redis.hset(key, mapping={"hang": seconds, "remaining": 1, "after": after})
        self.b.redis.expire(key, keys.SANDBOX_FAILURE_TTL)

    def take_hang(self, path: str, appid: str | None) -> float:
        """Seconds the answer to this call is held back (0: none scripted)."""
        for who in ([appid] if appid else []) + [None]:
            key = keys.sandbox_failure(path, who)
            hang = self.b.redis.hget(key, "hang")
            if hang is None:
                continue
            # HINCRBY is atomic: of concurrent calls, exactly the one after `after` is held.
            if int(self.b.redis.hincrby(key, "after", -1)) >= 0:
                return 0.0
            if self.b.redis.delete(key):   # one process takes it
                return float(hang)
        return 0.0

    def clear_failures(self) -> None:
        """Forget every scripted failure."""
        for key in list(self.b.redis.scan_iter(match=keys.sandbox_failures())):
            self.b.redis.delete(key)

    def take_failure(self, path: str, appid: str | None) -> int | None:
        """The errcode scripted for this call, if any, using one of its remaining times."""
        for who in ([appid] if appid else []) + [None]:
            key = keys.sandbox_failure(path, who)
            raw = self.b.redis.hgetall(key)
            if not raw or b"hang" in raw:
                continue
            errcode = int(raw[b"errcode"])
            if raw.get(b"forever") == b"1":
                return errcode
            # HINCRBY is atomic, so two processes never both use the last remaining failure.
            left = int(self.b.redis.hincrby(key, "remaining", -1))
            if left <= 0:
                self.b.redis.delete(key)
            if left >= 0:
                return errcode
        return None


def _normal(path: str) -> str:
    """"cgi-bin/token" and "/cgi-bin/token" name the same API."""
    return "/" + path.lstrip("/")
