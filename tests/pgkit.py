"""A private, real PostgreSQL server on loopback for tests.

``PostgresServer`` makes a new cluster (``initdb``) in a temporary directory of its own and
runs ``postgres`` in its own process on a free port of 127.0.0.1, as the ``postgres`` system
user when the tests run as root (PostgreSQL refuses to run as root). It can be killed and
started again on the same port and data, to test what the hall does while its database is
away. Durability settings are PostgreSQL's defaults (``fsync``, ``synchronous_commit``): a
commit the hall was told of is on disk.

``database()`` gives each test a database of its own, copied from a template that already
holds the hall's schema, so tests never share rows and need not migrate each time.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType

from tests.livekit import free_port

BIN = Path("/usr/lib/postgresql/15/bin")
INSTALL_HINT = "install it with scripts/install --test (Debian package postgresql)"
USER = "inzoomen"


def _bin(name: str) -> str:
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed; {INSTALL_HINT}")
    return found


def _as_server_user() -> list[str]:
    """The prefix that runs a PostgreSQL program as a user it accepts."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class PostgresServer:
    """``postgres`` on 127.0.0.1, started and stopped by the test suite."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port if port is not None else free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="inzoomen-pg-"))
        self.data = self.directory / "data"
        self.sockets = self.directory / "sockets"
        self.log_path = self.directory / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._template: str | None = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def _initdb(self) -> None:
        self.sockets.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
            shutil.chown(self.sockets, "postgres", "postgres")
        subprocess.run(
            [
                *_as_server_user(),
                _bin("initdb"),
                "--pgdata",
                str(self.data),
                "--username",
                USER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C.UTF-8",
            ],
            check=True,
            capture_output=True,
        )

    def start(self, timeout: float = 30.0) -> None:
        if not self.data.exists():
            self._initdb()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *_as_server_user(),
                    _bin("postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.sockets),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "max_connections=300",
                    "-c",
                    "shared_buffers=64MB",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited early; see {self.log_path}")
            ready = subprocess.run(
                [_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER],
                capture_output=True,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"postgres did not start; see {self.log_path}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server (SIGTERM: smart shutdown, SIGINT: fast, SIGKILL: a crash)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            # runuser passes the signal on; on SIGKILL runuser itself would die and leave
            # postgres running, so the postmaster is signalled directly.
            pid = self._postmaster_pid() or self.process.pid
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            if sig == signal.SIGKILL:
                # A killed postmaster leaves its backends; they go when they see it gone.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            # Every backend must be gone before a new postmaster starts on the same data:
            # one still attached to the old shared memory makes the new one refuse to start.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    os.killpg(self.process.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
        self.process = None

    def _postmaster_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.data / "postmaster.pid").read_text().splitlines()[0])
        return None

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(
            [_bin("psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", self.url(database)],
            input=sql,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def database(self, name: str | None = None) -> str:
        """A new database for one test, holding the hall's schema; its URL."""
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        if self._template is None:
            self._template = f"hall_template_{uuid.uuid4().hex[:8]}"
            self.psql(f"CREATE DATABASE {self._template}")
            subprocess.run(
                [
                    str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "python"),
                    "-m",
                    "app",
                    "migrate",
                    "--database-url",
                    self.url(self._template),
                ],
                check=True,
                capture_output=True,
            )
        self.psql(f"CREATE DATABASE {name} TEMPLATE {self._template}")
        return self.url(name)

    def empty_database(self, name: str | None = None) -> str:
        """A new database with nothing in it (to test migrations); its URL."""
        name = name or f"e_{uuid.uuid4().hex[:16]}"
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop(signal.SIGINT)
        shutil.rmtree(self.directory, ignore_errors=True)
