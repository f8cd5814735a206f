"""Real processes of the embedded mode (no REDIS_URL), each test in its own instance directory:
the `flask --app wsgi ...` commands a person types, `make run`'s server with its worker and
cron children, interactive `sandbox chat` sessions read as their terminal shows them."""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def embedded_env(instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "DATABASE_URL", "JOBS_INLINE", "TEST_REDIS_URL", "TEST_DATABASE_URL")}
    env.update(INSTANCE_PATH=str(instance), PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    return env


def flask(instance: Path, *args: str, timeout: float = 60, **env: str) -> str:
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                          env={**embedded_env(instance), **env}, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """`flask --app wsgi serve` (what `make run` starts), stopped by SIGTERM as CI does."""

    def __init__(self, instance: Path, port: int, **env: str):
        self.port = port
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env={**embedded_env(instance), **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/wechat/demo", timeout=2)
            except urllib.error.HTTPError:
                break                      # it answers (403 without a signature): it serves
            except OSError:
                time.sleep(0.3)
                continue
            break
        else:
            self.stop()
            raise AssertionError("serve did not answer within 60 s")

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        output, _ = self.process.communicate(timeout=30)
        return output


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def wait_for(check, timeout: float, step: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(step)


class Terminal:
    """An interactive `sandbox chat`: lines typed into its stdin, its screen read as it prints."""

    def __init__(self, instance: Path, *args: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "sandbox", "chat", *args], cwd=ROOT,
            env=embedded_env(instance), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.screen = ""
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        self.expect(r"sandbox chat: .* /help for commands\.", timeout=90)   # a loaded machine starts slowly

    def _read(self):
        for chunk in iter(lambda: self.process.stdout.read(1), ""):
            with self.lock:
                self.screen += chunk

    def type(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def expect(self, pattern: str, timeout: float = 45, after: int = 0) -> re.Match:
        """The first match of pattern printed after position `after` (waits for it)."""
        def seen():
            with self.lock:
                return re.compile(pattern).search(self.screen, after)
        found = wait_for(seen, timeout, 0.1)
        assert found, f"never printed {pattern!r}; screen:\n{self.screen}"
        return found

    def mark(self) -> int:
        with self.lock:
            return len(self.screen)

    def close(self) -> None:
        if self.process.poll() is None:
            self.type("/quit")
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def demo_with_agent(tmp_path, agent_phone: str):
    """A fresh instance with the demo account, store S1 and `agent_phone` on its roster as its
    default agent (imported the way an operator would)."""
    instance = tmp_path / "instance"
    flask(instance, "db", "upgrade")
    flask(instance, "demo")
    (tmp_path / "stores.csv").write_text("code,name,company\nS1,西湖门店,HZ\n", encoding="utf-8")
    (tmp_path / "staff.csv").write_text(
        f"phone,name,store,roles,capacity,default_agent\n{agent_phone},小王,S1,agent,3,1\n", encoding="utf-8")
    flask(instance, "stores", "import", str(tmp_path / "stores.csv"))
    flask(instance, "staff", "import", str(tmp_path / "staff.csv"))
    return instance
