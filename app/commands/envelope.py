"""The wire protocol's envelope and the schemas of action payloads.

Client → server (a command)::

    {"id": "c7", "action": "request.create", "data": {...}}

Server → client, the reply to that command (same id)::

    {"id": "c7", "ok": true, "data": {...}, "server_time": 1764087000.123}
    {"id": "c7", "ok": false, "error": {"code": "request.already_open", "message": "...",
     "fields": {...}}, "server_time": ...}

Server → client, a push::

    {"event": "hall.delta", "data": {...}}

See docs/protocol.md for every action and event.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from app.core.errors import DomainError, ValidationError

ID_MAX = 64
ACTION_MAX = 64
# A \uD800-\uDFFF escape: JSON lets a frame carry half of a surrogate pair, which is no
# character at all and cannot be stored or sent back.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class Command:
    id: str
    action: str
    data: dict[str, Any]


class EnvelopeError(DomainError):
    """A frame that is not a well-formed command; ``id`` is echoed when it could be read."""

    def __init__(self, code: str, command_id: str | None = None) -> None:
        super().__init__(code)
        self.command_id = command_id


def parse_command(text: str) -> Command:
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        raise EnvelopeError("protocol.bad_json") from None
    if _SURROGATE_ESCAPE.search(text) and not _is_text(frame):
        raise EnvelopeError("protocol.bad_json")
    if not isinstance(frame, dict):
        raise EnvelopeError("protocol.bad_envelope")
    command_id = frame.get("id")
    if not isinstance(command_id, str) or not 0 < len(command_id) <= ID_MAX:
        raise EnvelopeError("protocol.bad_envelope")
    action = frame.get("action")
    data = frame.get("data", {})
    if not isinstance(action, str) or not 0 < len(action) <= ACTION_MAX:
        raise EnvelopeError("protocol.bad_envelope", command_id)
    if not isinstance(data, dict) or set(frame) - {"id", "action", "data"}:
        raise EnvelopeError("protocol.bad_envelope", command_id)
    return Command(command_id, action, data)


def _is_text(value: Any) -> bool:
    """Whether every string in a parsed frame is real text (no lone surrogate)."""
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except (UnicodeEncodeError, RecursionError, ValueError):
        return False
    return True


def reply_ok(command_id: str, data: Any, server_time: float) -> str:
    return json.dumps(
        {"id": command_id, "ok": True, "data": data, "server_time": server_time},
        separators=(",", ":"),
        ensure_ascii=False,
    )


def reply_error(command_id: str | None, error: DomainError, server_time: float) -> str:
    body: dict[str, Any] = {"code": error.code, "message": error.message()}
    if isinstance(error, ValidationError):
        body["fields"] = error.field_messages()
    return json.dumps(
        {"id": command_id, "ok": False, "error": body, "server_time": server_time},
        separators=(",", ":"),
        ensure_ascii=False,
    )


@dataclass(frozen=True)
class Field:
    """One field of an action's payload."""

    name: str
    # int, str or bool; and for the administration forms only (``forms_only`` commands),
    # bytes (an uploaded file, whose size its domain module checks) and list (several
    # values of one field, each a str).
    kind: type
    required: bool = True
    max_length: int | None = None
    choices: tuple[str, ...] | None = None
    # The smallest int allowed: 1 for ids (most int fields), 0 for a count.
    minimum: int = 1

    def clean(self, raw: Any) -> Any:
        if self.kind is int:
            # bool is an int in Python; on the wire it is not a number.
            if not isinstance(raw, int) or isinstance(raw, bool) or not self.minimum <= raw < 2**53:
                raise DomainError("input.wrong_type", field=self.name)
            return raw
        if self.kind is bool:
            if not isinstance(raw, bool):
                raise DomainError("input.wrong_type", field=self.name)
            return raw
        if self.kind is bytes:
            if not isinstance(raw, bytes):
                raise DomainError("input.wrong_type", field=self.name)
            return raw
        if self.kind is list:
            if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
                raise DomainError("input.wrong_type", field=self.name)
            return list(raw)
        if not isinstance(raw, str):
            raise DomainError("input.wrong_type", field=self.name)
        if self.max_length is not None and len(raw) > self.max_length:
            raise DomainError("input.too_long", field=self.name, max=self.max_length)
        if self.choices is not None and raw not in self.choices:
            raise DomainError("input.bad_choice", field=self.name)
        return raw


def clean_payload(fields: tuple[Field, ...], data: dict[str, Any]) -> dict[str, Any]:
    """Check a payload against its fields: unknown keys, missing keys and wrong values."""
    errors: dict[str, DomainError] = {}
    known = {f.name for f in fields}
    for key in data:
        if key not in known:
            errors[str(key)[:64]] = DomainError("input.invalid", field=str(key)[:64])
    cleaned: dict[str, Any] = {}
    for field in fields:
        if field.name not in data or data[field.name] is None:
            if field.required:
                errors[field.name] = DomainError("input.required", field=field.name)
            else:
                cleaned[field.name] = None
            continue
        try:
            cleaned[field.name] = field.clean(data[field.name])
        except DomainError as error:
            errors[field.name] = error
    if errors:
        raise ValidationError(errors)
    return cleaned
