"""The production nginx configuration (docs/deploy/nginx.conf), run for real on loopback.

``NginxProxy`` takes that very file, puts a test certificate, free loopback ports and the
test hall's address in place of the site's own values, wraps it in a small nginx.conf of its
own (pid, logs and temporary files in a temporary folder) and runs Debian's ``nginx`` in the
foreground. nginx connects to the hall from ``bind_address`` (``proxy_bind``), so a test can
tell the hall whether to trust that address or not.

``make_certificate`` makes a self-signed certificate for 127.0.0.1 with the ``openssl``
command line.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

from tests.livekit import ROOT, free_port

NGINX_CONF = ROOT / "docs" / "deploy" / "nginx.conf"
INSTALL_HINT = "install Debian's nginx (apt-get install nginx)"

# The values in docs/deploy/nginx.conf that belong to one site, as the file spells them.
CERTIFICATE_DIR = "/etc/letsencrypt/live/hall.example.org/"
UPSTREAM = "127.0.0.1:8000"
LISTEN_HTTPS = "listen 443 ssl http2;"
LISTEN_HTTP = "listen 80;"


class PortTaken(RuntimeError):
    """Another process holds one of the ports nginx was to listen on."""


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


def make_certificate(directory: Path, name: str = "127.0.0.1") -> Certificate:
    """A self-signed certificate for the IP address ``name``, valid for two days."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl is not on PATH (Debian package openssl)")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "fullchain.pem", directory / "privkey.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName=IP:{name}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return Certificate(cert, key)


def site_config(
    text: str, *, certificate_dir: Path, upstream: str, https_port: int, http_port: int
) -> str:
    """The deployment's nginx.conf with this test's values in place of the site's own."""
    replacements = (
        (CERTIFICATE_DIR, f"{certificate_dir}/"),
        (UPSTREAM, upstream),
        (LISTEN_HTTPS, f"listen 127.0.0.1:{https_port} ssl http2;"),
        (LISTEN_HTTP, f"listen 127.0.0.1:{http_port};"),
    )
    for old, new in replacements:
        # Each of them must be in the file as the operator is told to change it.
        assert old in text, f"{old!r} is not in {NGINX_CONF}"
        text = text.replace(old, new)
    return text


def unverified_ssl_context() -> ssl.SSLContext:
    """A client context that accepts the self-signed test certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class NginxProxy:
    """Debian's nginx with docs/deploy/nginx.conf in front of a hall on ``upstream``."""

    def __init__(
        self,
        directory: Path,
        certificate: Certificate,
        upstream: str,
        bind_address: str = "127.0.0.2",
        executable: str = "nginx",
    ) -> None:
        self.directory = directory
        self.certificate = certificate
        self.upstream = upstream
        self.bind_address = bind_address
        self.executable = executable
        self.https_port = free_port()
        self.http_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def ws_url(self) -> str:
        return f"wss://127.0.0.1:{self.https_port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def error_log(self) -> Path:
        return self.directory / "error.log"

    @property
    def access_log(self) -> Path:
        return self.directory / "access.log"

    def write_config(self) -> Path:
        """The site file from docs/deploy and a main nginx.conf that includes it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        site = self.directory / "inzoomen.conf"
        site.write_text(
            site_config(
                NGINX_CONF.read_text(encoding="utf-8"),
                certificate_dir=self.certificate.cert.parent,
                upstream=self.upstream,
                https_port=self.https_port,
                http_port=self.http_port,
            ),
            encoding="utf-8",
        )
        d = self.directory
        # As root, the workers would switch to "nobody", who cannot enter the test's
        # temporary folder; they stay the test's own user instead.
        user = "user root root;\n" if os.geteuid() == 0 else ""
        main = d / "nginx.conf"
        main.write_text(
            f"{user}worker_processes 1;\n"
            f"pid {d}/nginx.pid;\n"
            f"error_log {d}/error.log notice;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            f"    access_log {d}/access.log;\n"
            f"    client_body_temp_path {d}/client_body;\n"
            f"    proxy_temp_path {d}/proxy;\n"
            f"    fastcgi_temp_path {d}/fastcgi;\n"
            f"    uwsgi_temp_path {d}/uwsgi;\n"
            f"    scgi_temp_path {d}/scgi;\n"
            # The hall sees nginx come from this address, not from 127.0.0.1.
            f"    proxy_bind {self.bind_address};\n"
            f"    include {site};\n"
            "}\n",
            encoding="utf-8",
        )
        return main

    def start(self, timeout: float = 15.0) -> None:
        for _attempt in range(3):
            try:
                self._start_once(timeout)
            except PortTaken:
                self.https_port, self.http_port = free_port(), free_port()
            else:
                return
        raise PortTaken(f"no free ports for nginx after 3 tries:\n{self.log()}")

    def _start_once(self, timeout: float) -> None:
        path = shutil.which(self.executable) or (
            f"/usr/sbin/{self.executable}"
            if Path(f"/usr/sbin/{self.executable}").exists()
            else None
        )
        if path is None:
            raise RuntimeError(f"{self.executable} is not on PATH; {INSTALL_HINT}")
        main = self.write_config()
        offset = self.error_log.stat().st_size if self.error_log.exists() else 0
        command = [path, "-p", str(self.directory), "-e", str(self.error_log), "-c", str(main)]
        command += ["-g", "daemon off;"]
        with (self.directory / "nginx.out").open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code, self.process = self.process.returncode, None
                output = self.log(offset)
                if "Address already in use" in output:
                    raise PortTaken(output)
                raise RuntimeError(f"nginx exited with status {code}:\n{output}")
            # Through nginx to the hall: both are up, and it is our nginx on the port.
            with contextlib.suppress(httpx.HTTPError):
                response = httpx.get(f"{self.url}/healthz", verify=False, timeout=1)
                if response.status_code == 200:
                    return
            time.sleep(0.05)
        output = self.log(offset)
        self.stop()
        raise RuntimeError(f"nginx did not pass /healthz within {timeout} s:\n{output}")

    def stop(self, timeout: float = 5.0) -> None:
        """Fast shutdown (SIGTERM); SIGKILL if it has not exited within ``timeout``."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log(self, offset: int = 0) -> str:
        parts = []
        for path in (self.error_log, self.directory / "nginx.out"):
            if path.exists():
                text = path.read_bytes()[offset if path == self.error_log else 0 :]
                parts.append(text.decode(errors="replace"))
        return "\n".join(parts)

    def access_lines(self) -> list[str]:
        if not self.access_log.exists():
            return []
        return self.access_log.read_text(errors="replace").splitlines()

    def __enter__(self) -> NginxProxy:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
