"""ICE servers for the hall's own video call: what the browser passes to RTCPeerConnection.

STUN and TURN servers come from the settings (see docs/turn.md). With a TURN secret (coturn's
``static-auth-secret``, the "TURN REST API" scheme) every participant gets credentials of
their own that expire: the username is ``"<expiry unix seconds>:<user key>"`` and the
credential is base64(HMAC-SHA1(secret, username)); coturn checks both without knowing the
participant. With a static username and password, every participant gets those.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from app.core.config import Settings


def turn_username(user: str, expires_at: int) -> str:
    """The ephemeral TURN username of ``user``, valid until ``expires_at`` (unix seconds)."""
    if not user or ":" in user:
        raise ValueError(f"a TURN user key is non-empty and holds no colon, got {user!r}")
    return f"{expires_at}:{user}"


def turn_credential(secret: str, username: str) -> str:
    """The password coturn expects for an ephemeral ``username`` under ``secret``."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def client_config(settings: Settings, user: str, now: float) -> dict[str, Any]:
    """The RTCConfiguration for ``user`` (an opaque key such as "candidate-12") at ``now``.

    ``iceServers`` is empty when nothing is configured: the browsers then find each other
    only on one local network or on loopback.
    """
    servers: list[dict[str, Any]] = []
    if settings.stun_urls:
        servers.append({"urls": list(settings.stun_urls)})
    if settings.turn_urls:
        if settings.turn_secret is not None:
            username = turn_username(user, int(now) + settings.turn_ttl_seconds)
            credential = turn_credential(settings.turn_secret, username)
        elif settings.turn_username is not None and settings.turn_password is not None:
            username, credential = settings.turn_username, settings.turn_password
        else:  # Settings.check refuses this; never hand out a TURN server without a login.
            raise ValueError("TURN URLs without credentials")
        servers.append(
            {"urls": list(settings.turn_urls), "username": username, "credential": credential}
        )
    return {
        "iceServers": servers,
        "iceTransportPolicy": "relay" if settings.ice_relay_only else "all",
    }
