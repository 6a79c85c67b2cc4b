"""The moderator's outbox: every e-mail the hall wrote, whether it was sent, and why not.

Without an SMTP server the mails stay here and this is where the organiser reads them. Only
the moderator sees this page; a message's text is shown as text (escaped), and its calendar
file can be downloaded as a file.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.core.errors import DomainError
from app.core.i18n import N_
from app.core.i18n import gettext as _
from app.domain.event import load_event
from app.storage import outbox as mail
from app.web.pages.common import error_context, principal_of_request, refuse, render, resources_of

OUTBOX = "/moderator/uitgaande-post"
PAGE_SIZE = 200

KIND_LABELS = {
    "booked": N_("Afspraak bevestigd"),
    "changed": N_("Afspraak gewijzigd"),
    "cancelled": N_("Afspraak afgezegd"),
    "reminder": N_("Herinnering"),
    "reschedule_requested": N_("Ander tijdstip gevraagd"),
}
STATE_LABELS = {
    "sent": N_("Verzonden"),
    "pending": N_("Wacht op verzending"),
    "failed": N_("Mislukt"),
}


def _row(message: mail.Message) -> dict[str, object]:
    return {
        "id": message.id,
        "kind": _(KIND_LABELS[message.kind]) if message.kind in KIND_LABELS else message.kind,
        "to": message.to_address,
        "subject": message.subject,
        "state": message.state,
        "state_label": _(STATE_LABELS[message.state]),
        "attempts": message.attempts,
        "error": message.last_error,
        "has_attachment": message.attachment_name is not None,
        "attachment_name": message.attachment_name,
    }


async def outbox_page(request: Request) -> Response:
    r = resources_of(request)
    principal = await principal_of_request(request)
    if principal.role != "moderator":
        return await refuse(request, principal, "/inloggen")
    event = await load_event(r.db)
    found = await mail.messages(r.db, limit=PAGE_SIZE)
    rows = []
    for message in found:
        row = _row(message)
        created = event.local(message.created_at)
        row["created_day"] = created.date().isoformat()
        row["created_time"] = created.strftime("%H:%M")
        row["created_iso"] = created.isoformat(timespec="seconds")
        rows.append(row)
    context = {
        "event": event,
        "messages": rows,
        "counts": await mail.counts(r.db),
        "smtp": r.settings.smtp_host is not None,
        "page_size": PAGE_SIZE,
    }
    return await render(request, "outbox.html", principal, context)


async def _message_or_error(request: Request) -> tuple[mail.Message | None, Response | None]:
    r = resources_of(request)
    principal = await principal_of_request(request)
    if principal.role != "moderator":
        return None, await refuse(request, principal, "/inloggen")
    message = await mail.message(r.db, int(request.path_params["message_id"]))
    if message is None:
        error = DomainError("mail.not_found")
        return None, await render(request, "error.html", principal, error_context(error, {}), 404)
    return message, None


async def message_page(request: Request) -> Response:
    message, refused = await _message_or_error(request)
    if refused is not None:
        return refused
    assert message is not None
    r = resources_of(request)
    principal = await principal_of_request(request)
    event = await load_event(r.db)
    row = _row(message)
    created = event.local(message.created_at)
    row["created"] = f"{created.date().isoformat()} {created.strftime('%H:%M:%S')}"
    row["created_iso"] = created.isoformat(timespec="seconds")
    row["sent"] = None
    if message.sent_at is not None:
        sent = event.local(message.sent_at)
        row["sent"] = f"{sent.date().isoformat()} {sent.strftime('%H:%M:%S')}"
    row["body"] = message.body
    return await render(request, "outbox_message.html", principal, {"event": event, "m": row})


async def attachment_download(request: Request) -> Response:
    message, refused = await _message_or_error(request)
    if refused is not None:
        return refused
    assert message is not None
    file = await mail.attachment(resources_of(request).db, message.id)
    if file is None:
        principal = await principal_of_request(request)
        error = DomainError("mail.not_found")
        return await render(request, "error.html", principal, error_context(error, {}), 404)
    # Only safe characters in the header; the stored name is ours (afspraak-<id>.ics).
    name = "".join(c for c in file.name if c.isascii() and (c.isalnum() or c in "-_.")) or "bijlage"
    return Response(
        file.data,
        media_type=file.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


routes = [
    Route(OUTBOX, outbox_page, methods=["GET"]),
    Route(OUTBOX + "/{message_id:int}", message_page, methods=["GET"]),
    Route(OUTBOX + "/{message_id:int}/bijlage", attachment_download, methods=["GET"]),
]
