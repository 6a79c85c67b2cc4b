"""A real coturn accepts the short-lived credentials the hall hands out, and relays a call.

Each test starts its own ``turnserver`` (Debian's coturn) on a free loopback port with the
TURN REST API scheme (``use-auth-secret`` + ``static-auth-secret``); real Chromium gathers
relayed candidates through it with the RTCConfiguration from ``app.domain.ice.client_config``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.core.config import load_settings
from app.domain.ice import client_config
from tests.browserkit import chromium
from tests.livekit import LiveServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which("turnserver") is None,
        reason="coturn's turnserver is not installed (scripts/install --test installs it)",
    ),
]

SECRET = "a-long-static-auth-secret-for-the-tests"
REALM = "inzoomen.test"


def _free_udp_and_tcp_port() -> int:
    """A loopback port free for both UDP and TCP (TURN listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free loopback port for both UDP and TCP")


@dataclass
class Turn:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _wait_listening(turn: Turn, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if turn.process.poll() is not None:
            raise RuntimeError(f"turnserver exited early:\n{turn.log()}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", turn.port), timeout=0.5),
        ):
            return
        time.sleep(0.1)
    raise RuntimeError(f"turnserver did not listen on {turn.port}:\n{turn.log()}")


def _relay_port_range() -> tuple[int, int]:
    """A relay port range of this test process's own, so that coturns started by tests
    running side by side (pytest-xdist's workers gw0, gw1, …) never hand out the same port."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    first = 40000 + 1000 * (int(worker) if worker.isdigit() else 0)
    return first, first + 999


@contextmanager
def running_turn(tmp_path: Path, auth: list[str], port: int | None = None) -> Iterator[Turn]:
    """coturn on a free loopback port (or this one), in the foreground, with ``auth`` as its
    login scheme."""
    port = port or _free_udp_and_tcp_port()
    relay_ports = _relay_port_range()
    log_path = tmp_path / "turn.log"
    command = [
        "turnserver",
        "-n",  # no configuration file: everything is on this command line
        f"--listening-port={port}",
        "--listening-ip=127.0.0.1",
        "--relay-ip=127.0.0.1",
        f"--min-port={relay_ports[0]}",
        f"--max-port={relay_ports[1]}",
        *auth,
        f"--realm={REALM}",
        "--fingerprint",
        "--allow-loopback-peers",
        "--no-tls",
        "--no-dtls",
        "--no-cli",
        "--no-tcp-relay",
        f"--pidfile={tmp_path / 'turn.pid'}",
        f"--log-file={log_path}",
        "--simple-log",
        f"--userdb={tmp_path / 'turndb.sqlite'}",
        "--verbose",
    ]
    with (tmp_path / "turn.out").open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    running = Turn(port, process, log_path)
    try:
        _wait_listening(running)
        yield running
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def turn(tmp_path: Path) -> Iterator[Turn]:
    """coturn with the TURN REST API scheme: it knows only the shared secret."""
    with running_turn(tmp_path, ["--use-auth-secret", f"--static-auth-secret={SECRET}"]) as t:
        yield t


def _settings(turn: Turn, secret: str) -> Any:
    return load_settings(
        {
            "INZOOMEN_TURN_URLS": turn.url,
            "INZOOMEN_TURN_SECRET": secret,
            "INZOOMEN_ICE_RELAY_ONLY": "true",
        }
    )


GATHER = """async (config) => {
  const pc = new RTCPeerConnection(config);
  const candidates = [];
  const errors = [];
  pc.addEventListener('icecandidateerror', (e) => errors.push(e.errorCode));
  const done = new Promise((resolve) => {
    pc.addEventListener('icecandidate', (e) => {
      if (e.candidate === null) resolve();
      else if (e.candidate.candidate) candidates.push(e.candidate.candidate);
    });
  });
  pc.createDataChannel('probe');
  await pc.setLocalDescription(await pc.createOffer());
  await Promise.race([done, new Promise((r) => setTimeout(r, 15000))]);
  const state = pc.iceGatheringState;
  pc.close();
  return {candidates, errors, state};
}"""


async def _gather(server: LiveServer, config: dict[str, Any]) -> dict[str, Any]:
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{server.url}/")
        result: dict[str, Any] = await page.evaluate(GATHER, config)
        await page.close()
    return result


async def test_coturn_accepts_the_halls_ephemeral_credentials(
    turn: Turn, server: LiveServer
) -> None:
    config = client_config(_settings(turn, SECRET), "candidate-12", time.time())
    assert config["iceTransportPolicy"] == "relay"
    result = await _gather(server, config)
    relayed = [c for c in result["candidates"] if " typ relay " in f"{c} "]
    assert relayed, f"no relayed candidate: {result}\n{turn.log()}"
    # Relay-only: the page learns no host or server-reflexive address at all.
    assert all(" typ relay" in c for c in result["candidates"]), result
    # The relayed address is the one coturn allocated from its relay port range.
    for candidate in relayed:
        address, port = candidate.split()[4:6]
        first, last = _relay_port_range()
        assert address == "127.0.0.1" and first <= int(port) <= last, candidate
    assert "candidate-12" in turn.log()


async def test_a_wrong_secret_gets_no_relay(turn: Turn, server: LiveServer) -> None:
    config = client_config(_settings(turn, SECRET + "-wrong"), "candidate-12", time.time())
    result = await _gather(server, config)
    assert result["state"] == "complete", result
    assert result["candidates"] == [], result
    assert 401 in result["errors"], result


async def test_expired_credentials_get_no_relay(turn: Turn, server: LiveServer) -> None:
    # Handed out three hours ago with a two-hour lifetime: coturn refuses them.
    config = client_config(_settings(turn, SECRET), "candidate-12", time.time() - 3 * 3600)
    result = await _gather(server, config)
    assert result["candidates"] == [], result
    assert 401 in result["errors"], result


CALL = """async ([configA, configB]) => {
  const a = new RTCPeerConnection(configA);
  const b = new RTCPeerConnection(configB);
  a.addEventListener('icecandidate', (e) => { if (e.candidate) b.addIceCandidate(e.candidate); });
  b.addEventListener('icecandidate', (e) => { if (e.candidate) a.addIceCandidate(e.candidate); });
  const channel = a.createDataChannel('chat');
  const received = new Promise((resolve) => {
    b.addEventListener('datachannel', (e) => {
      e.channel.addEventListener('message', (m) => resolve(m.data));
    });
  });
  channel.addEventListener('open', () => channel.send('hallo over het datakanaal'));
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);
  const message = await Promise.race([
    received, new Promise((r) => setTimeout(() => r(null), 20000)),
  ]);
  const pairs = [];
  for (const pc of [a, b]) {
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) {
        pair = stats.get(s.selectedCandidatePairId);
      }
    });
    pairs.push(pair && {
      local: stats.get(pair.localCandidateId).candidateType,
      remote: stats.get(pair.remoteCandidateId).candidateType,
    });
  }
  a.close(); b.close();
  return {message, pairs};
}"""


async def test_two_relay_only_peers_talk_through_coturn(turn: Turn, server: LiveServer) -> None:
    settings = _settings(turn, SECRET)
    now = time.time()
    config_a = client_config(settings, "candidate-12", now)
    config_b = client_config(settings, "advisor-3", now)
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{server.url}/")
        result: dict[str, Any] = await page.evaluate(CALL, [config_a, config_b])
    assert result["message"] == "hallo over het datakanaal", f"{result}\n{turn.log()}"
    assert result["pairs"] == [
        {"local": "relay", "remote": "relay"},
        {"local": "relay", "remote": "relay"},
    ], result
    log = turn.log()
    assert "candidate-12" in log and "advisor-3" in log


async def test_a_static_login_works_too(tmp_path: Path, server: LiveServer) -> None:
    auth = ["--lt-cred-mech", "--user=hall:static-pass"]
    with running_turn(tmp_path, auth) as turn:
        settings = load_settings(
            {
                "INZOOMEN_TURN_URLS": turn.url,
                "INZOOMEN_TURN_USERNAME": "hall",
                "INZOOMEN_TURN_PASSWORD": "static-pass",
                "INZOOMEN_ICE_RELAY_ONLY": "true",
            }
        )
        result = await _gather(server, client_config(settings, "candidate-12", time.time()))
        assert any(" typ relay " in c for c in result["candidates"]), f"{result}\n{turn.log()}"
        wrong = settings.with_overrides(turn_password="not-the-password")
        refused = await _gather(server, client_config(wrong, "candidate-12", time.time()))
        assert refused["candidates"] == [], refused
        assert 401 in refused["errors"], refused


async def test_without_ice_servers_a_call_connects_on_loopback(server: LiveServer) -> None:
    settings = load_settings({})
    now = time.time()
    config_a = client_config(settings, "candidate-12", now)
    config_b = client_config(settings, "advisor-3", now)
    assert config_a == {"iceServers": [], "iceTransportPolicy": "all"}
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{server.url}/")
        result: dict[str, Any] = await page.evaluate(CALL, [config_a, config_b])
    assert result["message"] == "hallo over het datakanaal", result
    assert result["pairs"] == [
        {"local": "host", "remote": "host"},
        {"local": "host", "remote": "host"},
    ], result
