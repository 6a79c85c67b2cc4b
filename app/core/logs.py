"""One way of logging for the whole server: the hall's own loggers and uvicorn's.

Operators read the log on a console or feed it to a collector. Both want every line to look
the same, with a time stamp, and one level setting that quiets everything at once. So one
``logging.config.dictConfig`` dictionary, built here, configures the root logger, the hall's
"inzoomen" loggers and uvicorn's loggers alike. uvicorn receives the same dictionary as its
``log_config``; its worker processes apply it themselves when they start, so several workers
log exactly like one.

Two formats: "text" (``2026-06-02T09:15:00.123Z INFO inzoomen.hub message``) for people, and
"json" (one object per line: time, level, logger, message, and exception when there is one)
for log collectors.
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
FORMATS = ("text", "json")
# The loggers that get the level explicitly: the hall's own and uvicorn's (uvicorn sets levels
# on some of these itself, so naming them keeps every one in step).
LOGGERS = ("inzoomen", "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def _timestamp(created: float) -> str:
    """ISO-8601 in UTC with milliseconds: sortable, and the same on every machine."""
    moment = datetime.fromtimestamp(created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class TextFormatter(logging.Formatter):
    """``<UTC time> <LEVEL> <logger> <message>``, with the traceback on the lines after."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _timestamp(record.created)


class JsonFormatter(logging.Formatter):
    """One JSON object per record on one line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # uvicorn's access lines carry their parts as arguments; collectors can filter on
        # them without parsing the message.
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            client, method, path, http_version, status = args
            entry.update(
                client=client, method=method, path=path, http_version=http_version, status=status
            )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_config(level: str = "info", log_format: str = "text") -> dict[str, Any]:
    """The ``dictConfig`` dictionary for ``level`` (one of ``LEVELS``) and ``log_format``
    ("text" or "json"). Every record goes through one handler on standard error."""
    if level not in LEVELS:
        raise ValueError(f"unknown log level {level!r}; one of {', '.join(LEVELS)}")
    if log_format not in FORMATS:
        raise ValueError(f"unknown log format {log_format!r}; one of {', '.join(FORMATS)}")
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    name = level.upper()
    return {
        "version": 1,
        # Modules create their loggers at import, before this runs; they must keep working.
        "disable_existing_loggers": False,
        "formatters": {"line": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "stream": {
                "class": "logging.StreamHandler",
                "formatter": "line",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": name, "handlers": ["stream"]},
        # No handlers of their own: everything reaches the one handler through the root, so
        # nothing is written twice and nothing in another format.
        "loggers": {
            logger: {"level": name, "handlers": [], "propagate": True} for logger in LOGGERS
        },
    }


def configure(level: str = "info", log_format: str = "text") -> None:
    """Apply ``log_config`` to this process."""
    logging.config.dictConfig(log_config(level, log_format))
