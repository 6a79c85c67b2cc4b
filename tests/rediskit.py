"""A private, real ``redis-server`` on loopback for tests.

``RedisServer`` runs ``redis-server`` in its own process on a free port of 127.0.0.1, with
nothing written to disk (``--save ''``, ``--appendonly no``) and a temporary directory of its
own. It can be stopped and started again on the same port, to test what clients do when
Redis restarts. Use it as a context manager; leaving it stops the server and removes the
directory.

Tests that share one server keep apart by giving every test its own prefix
(``unique_prefix``); ``flush`` empties the server's keys.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType

from tests.livekit import free_port

INSTALL_HINT = "install it with scripts/install --test (Debian package redis-server)"
READY = "Ready to accept connections"


class PortTaken(RuntimeError):
    """Another process holds the port."""


def unique_prefix(name: str = "test") -> str:
    """A Redis prefix no other test uses: the name (made safe) and a random part."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:40] or "test"
    return f"inzoomen-test:{safe}:{uuid.uuid4().hex[:12]}"


class RedisServer:
    """``redis-server`` on 127.0.0.1, started and stopped by the test suite."""

    def __init__(
        self,
        port: int | None = None,
        directory: Path | None = None,
        executable: str = "redis-server",
    ) -> None:
        self.port = port if port is not None else free_port()
        # A port we picked ourselves may be taken before the server binds it; then we pick
        # another, but only before the first start (a restart keeps the port).
        self._may_change_port = port is None
        self._own_directory = directory is None
        if directory is None:
            directory = Path(tempfile.mkdtemp(prefix="inzoomen-redis-"))
        self.directory = directory
        self.log_path = self.directory / "redis.log"
        self.executable = executable
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        path = shutil.which(self.executable)
        if path is None:
            raise RuntimeError(f"{self.executable} is not on PATH; {INSTALL_HINT}")
        return [
            path,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.directory),
            "--logfile",
            "",
        ]

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING; raise with its log if it does
        not within ``timeout`` seconds."""
        for _attempt in range(3):
            try:
                self._start_once(timeout)
            except PortTaken:
                if not self._may_change_port:
                    raise
                self.port = free_port()
            else:
                self._may_change_port = False
                return
        raise PortTaken(f"no free port for redis-server after 3 tries:\n{self.log()}")

    def _start_once(self, timeout: float) -> None:
        if self.process is not None:
            raise RuntimeError("redis-server is already running")
        self.directory.mkdir(parents=True, exist_ok=True)
        command = self.command()
        with self.log_path.open("ab") as log:
            offset = log.tell()
            self.process = subprocess.Popen(
                command, cwd=self.directory, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                output = self.log(offset)
                if "Address already in use" in output:
                    raise PortTaken(f"port {self.port} is taken")
                raise RuntimeError(
                    f"redis-server exited with status {code} on port {self.port}:\n{output}"
                )
            # The log line tells that it is our server that answers, not another one that
            # happened to hold the port.
            if READY in self.log(offset) and self.ping():
                return
            time.sleep(0.02)
        output = self.log(offset)
        self.stop()
        raise RuntimeError(
            f"redis-server did not answer PING on port {self.port} within {timeout} s:\n{output}"
        )

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server: SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def restart(self, timeout: float = 10.0) -> None:
        """Stop the server and start a fresh one on the same port (nothing survives)."""
        self.stop()
        self.start(timeout)

    def close(self) -> None:
        """Stop the server and remove its directory, if this object made it."""
        self.stop()
        if self._own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def call(self, *words: str, timeout: float = 2.0) -> bytes:
        """Send one command in RESP and return the raw first reply line (for PING, FLUSHALL
        and other commands with a one-line reply)."""
        request = f"*{len(words)}\r\n".encode()
        for word in words:
            data = word.encode()
            request += b"$%d\r\n%s\r\n" % (len(data), data)
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as connection:
            connection.sendall(request)
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = connection.recv(4096)
                if not chunk:
                    break
                reply += chunk
        return reply.rstrip(b"\r\n")

    def ping(self) -> bool:
        try:
            return self.call("PING", timeout=0.5) == b"+PONG"
        except OSError:
            return False

    def flush(self) -> None:
        """Remove every key of every database."""
        reply = self.call("FLUSHALL")
        if reply != b"+OK":
            raise RuntimeError(f"FLUSHALL failed: {reply!r}")

    def log(self, offset: int = 0) -> str:
        """The server's output (from byte ``offset`` on)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return "(no log)"
