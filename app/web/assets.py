"""Static files under content-hashed URLs, cached by browsers for a year.

Every file under ``static/`` gets a URL with a short hash of its bytes in the name
(``/static/css/base.3f9a1c2e.css``). A changed file gets a new URL, so a browser may keep
every URL for a year without asking again (``immutable``), and a new release is never
mixed with an old one. The plain name (``/static/css/base.css``) still answers, with
``no-cache``: a browser checks it each time (for a page of an older release, or a link
typed by hand).

Scripts are ES modules that import each other by relative name (``./live.js``). Those
imports resolve to plain names; the import map in every page (``import_map``) sends each
one to its hashed URL, so a module and everything it imports come from one release.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

PREFIX = "/static/"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_HASH_LENGTH = 10
# name.<hash>.ext: the hash is lower-case hexadecimal of a fixed length.
_HASHED = re.compile(rf"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{{{_HASH_LENGTH}}})(?P<ext>\.[^./]+)$")


@dataclass(frozen=True)
class Manifest:
    """The hash of every static file, read once when the server starts."""

    hashes: dict[str, str]
    # Built once with the manifest: every page render puts it in the page.
    _import_map: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        imports = {
            PREFIX + relative: self.url(relative)
            for relative in sorted(self.hashes)
            if relative.endswith(".js")
        }
        text = json.dumps({"imports": imports}, separators=(",", ":")).replace("</", "<\\/")
        object.__setattr__(self, "_import_map", text)

    @classmethod
    def of(cls, directory: Path) -> Manifest:
        hashes: dict[str, str] = {}
        for root, _dirs, files in os.walk(directory):
            for name in files:
                path = Path(root) / name
                relative = path.relative_to(directory).as_posix()
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                hashes[relative] = digest[:_HASH_LENGTH]
        return cls(hashes)

    def url(self, relative: str) -> str:
        """The hashed URL of a static file; a plain URL for a name not in ``static/``
        (so a typo shows up as a 404 in the browser rather than a crash of the page)."""
        digest = self.hashes.get(relative)
        if digest is None:
            return PREFIX + relative
        stem, dot, ext = relative.rpartition(".")
        if not dot or "/" in ext:
            return f"{PREFIX}{relative}.{digest}"
        return f"{PREFIX}{stem}.{digest}.{ext}"

    def import_map(self) -> str:
        """The page's ``<script type="importmap">`` body: every module's plain URL to its
        hashed URL. Safe inside a script element: ``json.dumps`` leaves no ``</``."""
        return self._import_map

    def import_map_hash(self) -> str:
        """The import map's SHA-256, base64, as the content security policy names it."""
        digest = hashlib.sha256(self.import_map().encode()).digest()
        return base64.b64encode(digest).decode()

    def unhashed(self, relative: str) -> tuple[str, bool]:
        """The file a requested path names, and whether the request carried the file's
        current hash (only then is the answer cached for good)."""
        found = _HASHED.match(relative)
        if found is not None:
            plain = found["stem"] + found["ext"]
            if plain in self.hashes:
                return plain, self.hashes[plain] == found["hash"]
        return relative, False


class HashedStaticFiles(StaticFiles):
    """Starlette's static files, answering hashed names too, with the caching each earns.

    A hashed name whose hash is not the file's current one (a page from an older release
    asking during a deploy) gets the current file with ``no-cache``, never a long-lived
    copy under the wrong name."""

    def __init__(self, *, directory: Path, manifest: Manifest) -> None:
        super().__init__(directory=directory)
        self.manifest = manifest

    async def get_response(self, path: str, scope: Scope) -> Response:
        plain, current = self.manifest.unhashed(path)
        response = await super().get_response(plain, scope)
        if response.status_code in (200, 304):
            response.headers["cache-control"] = IMMUTABLE if current else REVALIDATE
        return response
