"""nginx in front of gunicorn, as in production: it buffers whole requests (a sync gunicorn
worker never waits on a slow or idle client) and stamps each `X-Request-Start: t=${msec}` when
it arrives, which the webhook reads to know how long a push waited before it (bot/webhook.py)."""
import os
import shutil
import signal
import subprocess
import time

import requests

from bench.servers import OUT, BenchError, free_port

CONFIG = """daemon off;
worker_processes 1;
pid {out}/nginx.pid;
error_log {out}/nginx-error.log warn;
events {{ worker_connections 20000; }}
http {{
  access_log off;
  client_body_temp_path {out}/nginx-body;
  proxy_temp_path {out}/nginx-proxy;
  fastcgi_temp_path {out}/nginx-fastcgi;
  uwsgi_temp_path {out}/nginx-uwsgi;
  scgi_temp_path {out}/nginx-scgi;
  server {{
    listen 127.0.0.1:{port} backlog=8192;
    location / {{
      proxy_pass http://127.0.0.1:{upstream};
      proxy_set_header X-Request-Start "t=${{msec}}";
      proxy_read_timeout 60s;
      proxy_connect_timeout 60s;
    }}
  }}
}}
"""


def ensure_nginx() -> str:
    if not shutil.which("nginx"):
        print("nginx not found: apt-get install -y nginx-light", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "nginx-light"], stdout=subprocess.DEVNULL, check=False,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not path:
        raise BenchError("nginx is not installed and `apt-get install -y nginx-light` failed: install "
                         "nginx by hand, as root, and run the benchmark again")
    return path


class Front:
    """One nginx on a free port proxying to `upstream_port`; its files under bench/out/."""

    def __init__(self, upstream_port: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = OUT / "nginx.conf"
        conf.write_text(CONFIG.format(out=OUT, port=self.port, upstream=upstream_port))
        self.log = open(OUT / "nginx.log", "wb")
        self.proc = subprocess.Popen([ensure_nginx(), "-c", str(conf), "-p", str(OUT)], stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"nginx exited with {self.proc.returncode}; see {OUT / 'nginx-error.log'}")
            try:
                requests.get(self.url, timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise BenchError(f"nginx not ready after {timeout:.0f}s; see {OUT / 'nginx-error.log'}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)      # nginx's graceful shutdown
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
