"""Fixtures: one real Berth for the whole run (tests that restart it get their own), the local
PostgreSQL and MariaDB behind it, and direct access to both databases to check what Berth did."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from berth_process import BerthProcess, build  # noqa: E402

from berth import BerthClient  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _built() -> None:
    build()


@pytest.fixture(scope="session")
def berth_server() -> Iterator[BerthProcess]:
    server = BerthProcess()
    try:
        server.start()
        server.set_up()
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def client(berth_server: BerthProcess) -> Iterator[BerthClient]:
    with BerthClient(berth_server.grpc_url, token=berth_server.token) as c:
        yield c


@pytest.fixture(params=["pg", "mysql"])
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def connection(berth_server: BerthProcess, engine: str) -> str:
    return berth_server.connections[engine]


def psql(sql: str) -> List[str]:
    """Runs SQL directly on the local PostgreSQL (not through Berth); one line per row."""
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-XAtq", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PGCONNECT_TIMEOUT": "5"},
    )
    return [line for line in out.stdout.splitlines() if line]


def mysql(sql: str) -> List[str]:
    """Runs SQL directly on the local MariaDB; one line per row, tab-separated."""
    out = subprocess.run(
        ["mysql", "-h", "127.0.0.1", "-u", "root", "-D", "test", "-N", "-B", "-e", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return [line for line in out.stdout.splitlines() if line]


def direct(engine: str, sql: str) -> List[str]:
    return psql(sql) if engine == "pg" else mysql(sql)


def placeholders(engine: str, n: int) -> List[str]:
    return [f"${i}" for i in range(1, n + 1)] if engine == "pg" else ["?"] * n
