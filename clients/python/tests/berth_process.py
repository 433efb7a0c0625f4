"""A real Berth for the tests: the repository's dist/main.js as its own process, on free ports, with a
temporary data directory, a PostgreSQL and a MariaDB connection, and a service token for both."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Optional

ADMIN_PASSWORD = "python-sdk-admin-password"
REPO = Path(__file__).resolve().parents[3]

PG = {"type": "postgresql", "server": "127.0.0.1", "port": 5432, "database": "test", "username": "postgres", "password": ""}
MYSQL = {"type": "mysql", "server": "127.0.0.1", "port": 3306, "database": "test", "username": "root", "password": ""}


def until(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, what: str = "condition") -> Any:
    """Polls until ``condition()`` is truthy (no fixed sleeps); returns its value."""
    end = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build() -> None:
    subprocess.run(["node", "scripts/build-if-stale.mjs"], cwd=REPO, check=True, stdout=subprocess.DEVNULL)


class BerthProcess:
    """``env`` adds to Berth's environment; ``ca_file`` is the CA of its TLS certificate, when the
    port speaks TLS (then there is no plaintext gRPC port: the two cannot be combined)."""

    def __init__(self, env: Optional[Dict[str, str]] = None, ca_file: Optional[str] = None) -> None:
        self.data_dir = tempfile.mkdtemp(prefix="berth-python-sdk-")
        self.extra_env = dict(env or {})
        self.ssl = ssl.create_default_context(cafile=ca_file) if ca_file else None
        self.port = free_port()
        self.grpc_port = free_port()
        self.proc: Optional[subprocess.Popen] = None
        self.admin_token = ""
        self.token = ""
        self.connections: Dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl else 'http'}://127.0.0.1:{self.port}"

    @property
    def grpc_url(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "BERTH_PORT": str(self.port),
            **({} if self.ssl else {"BERTH_GRPC_PORT": str(self.grpc_port)}),
            "BERTH_DATA_DIR": self.data_dir,
            "BERTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "BERTH_LOG_LEVEL": "warn",
            "BERTH_RATE_LIMITS": "off",
            # A restart in the tests must not wait for the default 10 s drain.
            "BERTH_SHUTDOWN_GRACE_MS": "1000",
            **self.extra_env,
        }
        # Its own session: a signal meant for the test run (Ctrl-C) must not stop Berth mid-test.
        # Its log goes to a file (shown when it fails to start), not between pytest's dots.
        self.log_path = os.path.join(self.data_dir, "berth.log")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                ["node", "dist/main.js"], cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True,
            )
        until(self._ready, timeout=30, what="Berth to start")

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            with open(self.log_path, errors="replace") as f:
                tail = f.read()[-4000:]
            raise RuntimeError(f"Berth exited with {self.proc.returncode} while starting:\n{tail}")
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=1, context=self.ssl) as res:
                return res.status == 200
        except (urllib.error.URLError, ConnectionError, OSError):
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def api(self, path: str, body: Any = None, token: Optional[str] = None) -> Any:
        req = urllib.request.Request(
            self.url + path,
            method="GET" if body is None else "POST",
            data=None if body is None else json.dumps(body).encode(),
            headers={"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})},
        )
        try:
            with urllib.request.urlopen(req, timeout=30, context=self.ssl) as res:
                return json.loads(res.read() or b"null")
        except urllib.error.HTTPError as err:
            raise RuntimeError(f"{path}: {err.code} {err.read().decode()}") from None

    def set_up(self) -> None:
        """Admin sign-in, the two connections, and a service token reaching both (what services use)."""
        self.token_name = f"python-sdk-{os.urandom(4).hex()}"
        self.admin_token = self.api("/api/auth/login", {"username": "admin", "password": ADMIN_PASSWORD})["token"]
        suffix = os.urandom(4).hex()
        for name, spec in (("pg", PG), ("mysql", MYSQL)):
            created = self.api("/api/connections", {"name": f"sdk-{name}-{suffix}", **spec}, self.admin_token)
            self.connections[name] = created["id"]
        token = self.api(
            "/api/tokens",
            {"name": self.token_name, "connectionIds": list(self.connections.values()), "accessLevel": "user"},
            self.admin_token,
        )
        self.token = token["token"]

    def rss_mib(self) -> float:
        assert self.proc is not None
        return rss_mib(self.proc.pid)


def rss_mib(pid: Any = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")
