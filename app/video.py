"""Video links for a conversation, from the provider chosen in the event settings."""

from __future__ import annotations

import secrets
from typing import Protocol

from app.accounts import Staff
from app.event import Event


class VideoProvider(Protocol):
    def room_for(self, advisor: Staff) -> str: ...


class JitsiRooms:
    """A fresh room with an unguessable name on a Jitsi-compatible server."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def room_for(self, advisor: Staff) -> str:
        return f"{self.base_url}/inzoomen-{secrets.token_urlsafe(18)}"


class PersonalLinks:
    """The advisor's own meeting link; a generated room when they have none."""

    def __init__(self, fallback: JitsiRooms) -> None:
        self.fallback = fallback

    def room_for(self, advisor: Staff) -> str:
        return advisor.personal_link or self.fallback.room_for(advisor)


def provider_for(event: Event) -> VideoProvider:
    rooms = JitsiRooms(event.video_base_url)
    if event.video_provider == "personal":
        return PersonalLinks(rooms)
    return rooms
