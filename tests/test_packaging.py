"""The hall installs the same everywhere: the lock agrees with pyproject.toml, and the built
wheel carries every file the running hall reads, so that it serves from any folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.livekit import ROOT, free_port

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", re.MULTILINE)
LOCKS = {"app": ROOT / "requirements" / "app.txt", "test": ROOT / "requirements" / "test.txt"}


def pins(lock: Path) -> dict[str, str]:
    text = lock.read_text(encoding="utf-8")
    found = {canonicalize_name(name): version for name, version in PIN.findall(text)}
    assert found, f"no pinned packages in {lock}"
    return found


def declared() -> dict[str, list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    build = [Requirement(r) for r in project["build-system"]["requires"]]
    app = [Requirement(r) for r in project["project"]["dependencies"]]
    test = [Requirement(r) for r in project["project"]["optional-dependencies"]["test"]]
    return {"app": app + build, "test": app + build + test}


@pytest.mark.parametrize("which", sorted(LOCKS))
def test_every_declared_package_is_locked_in_its_range(which: str) -> None:
    locked = pins(LOCKS[which])
    problems = []
    for requirement in declared()[which]:
        version = locked.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{requirement.name} is not in the lock")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement.name}=={version} is outside {requirement}")
    assert not problems, f"{LOCKS[which].name} and pyproject.toml disagree (run scripts/lock): " + (
        "; ".join(problems)
    )


def test_every_locked_package_has_hashes() -> None:
    for lock in LOCKS.values():
        blocks = re.split(r"\n(?=[A-Za-z0-9])", lock.read_text(encoding="utf-8"))
        unhashed = [
            block.split()[0]
            for block in blocks
            if PIN.match(block) and "--hash=sha256:" not in block
        ]
        assert not unhashed, f"{lock.name}: pinned without a hash: {unhashed}"


def test_the_app_lock_is_the_test_lock_for_what_they_share() -> None:
    app, test = pins(LOCKS["app"]), pins(LOCKS["test"])
    differing = {name: (v, test.get(name)) for name, v in app.items() if test.get(name) != v}
    assert not differing, f"versions differ between the locks (run scripts/lock): {differing}"


def test_the_installed_packages_are_the_locked_ones() -> None:
    """What the suite runs against is the lock: a venv set up another way is noticed."""
    from importlib import metadata

    locked = pins(LOCKS["test"])
    wrong = {}
    for name, version in locked.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong[name] = (version, None)
            continue
        if installed != version:
            wrong[name] = (version, installed)
    assert not wrong, f"installed versions differ from requirements/test.txt: {wrong}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
    build += ["--no-build-isolation", "--disable-pip-version-check", "--wheel-dir", str(out)]
    subprocess.run([*build, str(ROOT)], check=True, capture_output=True)
    (built,) = out.glob("inzoomen-*.whl")
    return built


def test_the_wheel_carries_templates_static_files_catalogues_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())

    def shipped(folder: Path, pattern: str, inside: str) -> set[str]:
        return {f"{inside}/{p.relative_to(folder).as_posix()}" for p in folder.glob(pattern)}

    wanted = (
        shipped(ROOT / "templates", "**/*.html", "app/templates")
        | shipped(ROOT / "static", "**/*.*", "app/static")
        | shipped(ROOT / "app" / "storage" / "migrations", "**/*.sql", "app/storage/migrations")
        | shipped(ROOT / "app" / "locale", "*/LC_MESSAGES/*.po", "app/locale")
        | shipped(ROOT / "app" / "fonts", "*.*", "app/fonts")
    )
    assert len(wanted) > 60
    missing = sorted(wanted - names)
    assert not missing, f"the wheel lacks {missing}"
    assert not [n for n in names if "__pycache__" in n or n.endswith((".db", ".pyc"))]


def test_the_installed_wheel_serves_the_hall_from_another_folder(
    wheel: Path, tmp_path: Path
) -> None:
    """A fresh venv with the app's lock and the wheel only (no checkout on its path): the
    hall starts from an empty folder and serves its pages, static files and health."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    pip += ["--disable-pip-version-check"]
    subprocess.run([*pip, "--require-hashes", "-r", str(LOCKS["app"])], check=True)
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INZOOMEN_", "PYTHON"))}
    log = (tmp_path / "serve.log").open("wb")
    serve = [str(venv / "bin" / "inzoomen"), "serve", "--demo", "--port", str(port)]
    server = subprocess.Popen(
        [*serve, "--db", str(elsewhere / "hall.db")],
        cwd=elsewhere,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=5) as client:
            # A fresh environment's first start compiles and imports everything: on a
            # busy machine that takes a while, so wait for as long as it needs.
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                if server.poll() is not None:
                    break
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            assert server.poll() is None, (tmp_path / "serve.log").read_text(errors="replace")
            assert client.get("/healthz").status_code == 200
            hall = client.get("/")
            assert hall.status_code == 200 and "Leerwerkloket" in hall.text
            css = re.search(r'href="(/static/[^"]+\.css[^"]*)"', hall.text)
            assert css, "the hall links no style sheet"
            sheet = client.get(css.group(1))
            assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/css")
            assert len(sheet.content) > 1000
        imported = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import app; print(app.__file__)"],
            cwd=elsewhere,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert str(venv) in imported and str(ROOT) not in imported
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()
