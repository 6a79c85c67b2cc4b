"""The production HAProxy configuration (docs/deploy/haproxy.cfg), run for real on loopback in
front of several hall nodes.

``HAProxy`` takes that very file and puts the test's own values in place of the site's: the
given loopback nodes for the placeholder servers, a free loopback port for ``bind :80``, and
an admin socket in a temporary folder for the system one (so a test can ask which nodes
HAProxy sends visitors to). What needs root and a system install (chroot, the haproxy user,
syslog) goes, and the connection limit is one a test machine allows; the balancing, the
checks and the timeouts stay exactly as operators run them. Debian's ``haproxy`` runs in the
foreground (``-db``), no system service.

``HallCluster`` is several ``inzoomen serve`` nodes on one database, sharing live updates
through Redis, behind that HAProxy.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import socket
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

import httpx

from tests.livekit import ROOT, LiveServer, free_port

HAPROXY_CFG = ROOT / "docs" / "deploy" / "haproxy.cfg"
INSTALL_HINT = "install Debian's haproxy (apt-get install haproxy)"

# The lines of docs/deploy/haproxy.cfg that belong to one site or one system install, as the
# file spells them.
BIND = re.compile(r"^(\s*)bind :80$", re.MULTILINE)
SERVER_BLOCK = re.compile(
    r"^([ \t]*)server node\d+ \S+ check\n(?:[ \t]*server node\d+ \S+ check\n)*", re.MULTILINE
)
ERRORFILE = re.compile(
    r"^([ \t]*)errorfile 503 /etc/haproxy/errors/inzoomen-503\.http$", re.MULTILINE
)
ERROR_PAGE = ROOT / "docs" / "deploy" / "inzoomen-503.http"
MAXCONN = re.compile(r"^(\s*)maxconn \d+$", re.MULTILINE)
STATS_SOCKET = re.compile(r"^(\s*)stats socket /run/haproxy/admin\.sock .*$", re.MULTILINE)
SYSTEM_ONLY = re.compile(
    r"^\s*(chroot /var/lib/haproxy|user haproxy|group haproxy|log /dev/log local0)$\n",
    re.MULTILINE,
)


class PortTaken(RuntimeError):
    """Another process took the port HAProxy was to listen on."""


def _one(pattern: re.Pattern[str], text: str, replacement: str) -> str:
    """``text`` with the one match of ``pattern`` replaced; it must be in the file."""
    new, count = pattern.subn(replacement, text)
    assert count == 1, f"{pattern.pattern!r} matches {count} lines of {HAPROXY_CFG}, not one"
    return new


def site_config(text: str, *, nodes: list[tuple[str, int]], port: int, socket_path: Path) -> str:
    """The deployment's haproxy.cfg with this test's values in place of the site's own."""
    blocks = list(SERVER_BLOCK.finditer(text))
    assert blocks, f"no `server nodeN ADDRESS check` lines in {HAPROXY_CFG}"
    # Each backend's placeholder servers become the test's nodes.
    for block in reversed(blocks):
        indent = block.group(1)
        ours = "".join(
            f"{indent}server node{i} {host}:{port} check\n"
            for i, (host, port) in enumerate(nodes, 1)
        )
        text = text[: block.start()] + ours + text[block.end() :]
    text = _one(ERRORFILE, text, rf"\g<1>errorfile 503 {ERROR_PAGE}")
    text = _one(BIND, text, rf"\g<1>bind 127.0.0.1:{port}")
    text = _one(STATS_SOCKET, text, rf"\g<1>stats socket {socket_path} level admin")
    # Twice the connections in file descriptors: more than a test machine's limit may allow
    # (haproxy refuses to start then), and more than a test opens.
    text = _one(MAXCONN, text, r"\g<1>maxconn 2000")
    removed = len(SYSTEM_ONLY.findall(text))
    assert removed == 4, f"chroot, user, group and log lines expected in {HAPROXY_CFG}"
    text = SYSTEM_ONLY.sub("", text)
    # Its log (every request, every node going down or up) goes to the test's log file.
    return text.replace("\nglobal\n", "\nglobal\n    log stdout format raw local0\n", 1)


def executable() -> str:
    path = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )
    if path is None:
        raise RuntimeError(f"haproxy is not on PATH; {INSTALL_HINT}")
    return path


class HAProxy:
    """Debian's haproxy with docs/deploy/haproxy.cfg in front of ``nodes`` (host, port),
    named node1, node2, ... in their order."""

    def __init__(self, nodes: list[tuple[str, int]], directory: Path) -> None:
        self.nodes = list(nodes)
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def socket_path(self) -> Path:
        return self.directory / "admin.sock"

    @property
    def log_path(self) -> Path:
        return self.directory / "haproxy.log"

    def write_config(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / "haproxy.cfg"
        text = site_config(
            HAPROXY_CFG.read_text(encoding="utf-8"),
            nodes=self.nodes,
            port=self.port,
            socket_path=self.socket_path,
        )
        path.write_text(text, encoding="utf-8")
        return path

    def start(self, timeout: float = 15.0) -> None:
        for _attempt in range(3):
            try:
                self._start_once(timeout)
            except PortTaken:
                self.port = free_port()
            else:
                return
        raise PortTaken(f"no free port for haproxy after 3 tries:\n{self.log()}")

    def _start_once(self, timeout: float) -> None:
        path = executable()
        config = self.write_config()
        self.socket_path.unlink(missing_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [path, "-db", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code, self.process = self.process.returncode, None
                output = self.log(offset)
                if "cannot bind socket" in output or "Address already in use" in output:
                    raise PortTaken(output)
                raise RuntimeError(f"haproxy exited with status {code}:\n{output}")
            # Our haproxy answers on its admin socket, and passes a request to a node.
            if self.socket_path.exists():
                with contextlib.suppress(httpx.HTTPError, OSError):
                    if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                        return
            time.sleep(0.05)
        output = self.log(offset)
        self.stop()
        raise RuntimeError(f"haproxy did not pass /healthz within {timeout} s:\n{output}")

    def stop(self, timeout: float = 5.0) -> None:
        """Hard stop (SIGTERM); SIGKILL if it has not exited within ``timeout``."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def command(self, line: str) -> str:
        """One command on the admin socket, and HAProxy's answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as admin:
            admin.settimeout(5)
            admin.connect(str(self.socket_path))
            admin.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := admin.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def node_states(self) -> dict[str, str]:
        """Each node's state as HAProxy sees it: ``UP`` (visitors are sent to it), ``DOWN``,
        ``MAINT``, ``DRAIN`` or ``NOLB``. A node between states counts as what it still is
        (HAProxy's ``UP 1/2``, one check failed, is ``UP``)."""
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        name, server, status = (
            header.index("pxname"),
            header.index("svname"),
            header.index("status"),
        )
        states = {}
        for line in lines[1:]:
            fields = line.split(",")
            if (
                len(fields) > status
                and fields[name] == "hall"
                and fields[server] not in ("FRONTEND", "BACKEND")
            ):
                states[fields[server]] = fields[status].split(" ")[0]
        return states

    def wait_for_states(self, expected: dict[str, str], timeout: float = 20.0) -> None:
        """Until the nodes named in ``expected`` are in those states; AssertionError with
        what HAProxy said last when they are not within ``timeout`` (a generous bound: a
        node goes down after two failed checks, a second or two)."""
        deadline = time.monotonic() + timeout
        while True:
            states = self.node_states()
            if all(states.get(node) == state for node, state in expected.items()):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"HAProxy sees {states}, expected {expected}")
            time.sleep(0.1)

    def log(self, offset: int = 0) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_bytes()[offset:].decode(errors="replace")

    def __enter__(self) -> HAProxy:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class HallCluster:
    """``count`` hall nodes on one database and one Redis, behind HAProxy.

    ``database`` is what every node is started on: an SQLite file, or a PostgreSQL URL.
    """

    def __init__(
        self,
        database: Path | str,
        directory: Path,
        *,
        count: int = 3,
        env: dict[str, str] | None = None,
    ) -> None:
        self.database = database
        self.directory = directory
        self.env = dict(env or {})
        self.nodes = [self.node(i) for i in range(1, count + 1)]
        self.balancer = HAProxy([("127.0.0.1", n.port) for n in self.nodes], directory / "haproxy")
        self._stack = ExitStack()

    def node(self, number: int) -> LiveServer:
        return LiveServer(self.database, self.directory / f"node{number}.log", env=self.env)

    @property
    def names(self) -> list[str]:
        return [f"node{i}" for i in range(1, len(self.nodes) + 1)]

    def start(self) -> None:
        with ExitStack() as stack:
            for node in self.nodes:
                node.start()
                stack.callback(node.stop)
            self.balancer.start()
            stack.callback(self.balancer.stop)
            self._stack = stack.pop_all()

    def stop(self) -> None:
        self._stack.close()
        # A node a test restarted is not on the stack; stopping twice is harmless.
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> HallCluster:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def open_sockets(node: LiveServer) -> int:
    """The WebSockets ``node`` holds, from its own /metrics (with the metrics token it was
    started with)."""
    token = node.env["INZOOMEN_METRICS_TOKEN"]
    response = httpx.get(
        f"{node.url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    response.raise_for_status()
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in response.text.splitlines()
        if line.startswith("inzoomen_connections{")
    )


def connections(cluster: HallCluster, nodes: list[int] | None = None) -> list[int]:
    """The sockets each node (by index) holds."""
    chosen = range(len(cluster.nodes)) if nodes is None else nodes
    return [open_sockets(cluster.nodes[i]) for i in chosen]
