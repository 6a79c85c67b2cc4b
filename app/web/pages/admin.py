"""Administration: the event, booths, staff and schedule, through forms (moderators only);
and the invitation link through which a new member of staff sets their password.

Each form is a thin adapter: it checks the role and the CSRF token, hands the fields to the
domain module (``app.domain.event_setup``, ``app.domain.booth_setup``, ``app.domain.invitations``,
``app.domain.schedule``), shows its errors on the same form, and after a change tells
everyone who sees it (the hall, the booth's advisors, the moderators).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from app.core.errors import DomainError
from app.core.i18n import gettext as _
from app.domain import booth_setup as booth_admin
from app.domain import booths, extension, invitations, readiness
from app.domain import event_setup as admin
from app.domain import schedule as schedule_admin
from app.domain.accounts import MIN_PASSWORD_LENGTH
from app.domain.event import event_days, load_event
from app.domain.principals import Principal
from app.web.pages.common import (
    error_context,
    principal_of_request,
    read_form,
    render,
    resources_of,
    status_for,
)
from app.web.pages.guards import anyone, error_page, fields_of, for_moderators

Handler = Callable[[Request, Principal], Awaitable[Response]]

_INVITATION_PATH = re.compile(r"/uitnodiging/[^\s?#\"]+")


class HideInvitationTokens(logging.Filter):
    """An invitation link is a credential: the access log shows its path without it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _INVITATION_PATH.sub("/uitnodiging/…", a) if isinstance(a, str) else a
                for a in record.args
            )
        return True


logging.getLogger("uvicorn.access").addFilter(HideInvitationTokens())


def local_time(request: Request, event_zone: Any, ts: float) -> str:
    return datetime.fromtimestamp(ts, event_zone).strftime("%Y-%m-%d %H:%M")


# -- the index ------------------------------------------------------------------------------


async def index_page(request: Request, principal: Principal) -> Response:
    db = resources_of(request).db
    counts = {
        "booths": len(await booths.list_booths(db)),
        "days": len(await event_days(db)),
        "staff": int(await db.fetchvalue("SELECT COUNT(*) FROM staff WHERE active = 1")),
    }
    return await render(request, "admin_index.html", principal, {"counts": counts})


# -- the event ------------------------------------------------------------------------------


def _event_labels() -> dict[str, str]:
    return {
        "name": _("Naam van het evenement"),
        "timezone": _("Tijdzone"),
        "conversation_minutes": _("Lengte van een gesprek (minuten)"),
        "warning_minutes": _("Waarschuwing voor het einde (minuten)"),
        "video_provider": _("Video"),
        "video_base_url": _("Webadres van de videodienst"),
        "wait_alert_minutes": _("Melding bij wachten langer dan (minuten)"),
        "overtime_alert_minutes": _("Melding bij uitloop langer dan (minuten)"),
        "day": _("Datum"),
        "opens": _("Open vanaf"),
        "closes": _("Open tot"),
        "extension_minutes": _("Verlengen met (minuten)"),
        "extension_max_minutes": _("Hoogstens verlengen in totaal (minuten)"),
        "extension_when_waiting": _("Ook verlengen als er mensen wachten"),
        "ready_seconds": _("Tijd om te laten weten dat je klaar bent (seconden)"),
        "ready_step_back": _("Plaatsen terug na geen reactie"),
        "join_seconds": _("Tijd om het gesprek te openen na aannemen (seconden)"),
    }


async def _event_page(
    request: Request,
    principal: Principal,
    *,
    values: dict[str, Any] | None = None,
    day_values: dict[str, str] | None = None,
    error: DomainError | None = None,
    extension_values: dict[str, str] | None = None,
    readiness_values: dict[str, str] | None = None,
) -> Response:
    r = resources_of(request)
    event = await load_event(r.db)
    if extension_values is None:
        extension_values = extension.form_values(await extension.load_settings(r.db))
    days = await event_days(r.db)
    if values is None:
        values = dict(admin.Settings.of(event).__dict__)
    if day_values is None:
        chosen = request.query_params.get("dag", "")
        found = next((d for d in days if d.day.isoformat() == chosen), None)
        day_values = (
            {"day": found.day.isoformat(), "opens": found.opens, "closes": found.closes}
            if found
            else {"opens": "09:00", "closes": "17:00"}
        )
    context: dict[str, Any] = {
        "values": values,
        "day_values": day_values,
        "days": days,
        "saved": request.query_params.get("opgeslagen", ""),
        "removed_blocks": request.query_params.get("blokken", ""),
        "extension_values": extension_values,
        "readiness_values": readiness_values
        or readiness.form_values(await readiness.load_settings(r.db)),
    }
    if error is not None:
        context.update(error_context(error, _event_labels()))
    return await render(
        request, "admin_event.html", principal, context, 200 if error is None else 400
    )


async def event_page(request: Request, principal: Principal) -> Response:
    return await _event_page(request, principal)


async def event_submit(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    data = fields_of(form)
    try:
        await admin.update_settings(r.db, data, staff_id=principal.id, now=r.now())
    except DomainError as error:
        return await _event_page(request, principal, values=data, error=error)
    await r.live.hall_changed()
    return RedirectResponse("/beheer/evenement?opgeslagen=instellingen", status_code=303)


async def extension_submit(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    data = fields_of(form)
    try:
        await extension.update_settings(r.db, data, staff_id=principal.id, now=r.now())
    except DomainError as error:
        return await _event_page(request, principal, extension_values=data, error=error)
    return RedirectResponse("/beheer/evenement?opgeslagen=verlengen#verlengen", status_code=303)


async def readiness_submit(request: Request, principal: Principal) -> Response:
    """The readiness prompt and no-show limits (app.domain.readiness)."""
    r = resources_of(request)
    form = await read_form(request)
    data = fields_of(form)
    try:
        await readiness.update_settings(r.db, data, staff_id=principal.id, now=r.now())
    except DomainError as error:
        return await _event_page(request, principal, readiness_values=data, error=error)
    return RedirectResponse("/beheer/evenement?opgeslagen=klaar#klaar", status_code=303)


async def day_submit(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    data = fields_of(form)
    try:
        await admin.save_day(r.db, data, staff_id=principal.id, now=r.now())
    except DomainError as error:
        return await _event_page(request, principal, day_values=data, error=error)
    await r.live.hall_changed()
    return RedirectResponse("/beheer/evenement?opgeslagen=dag#dagen", status_code=303)


async def day_remove_page(request: Request, principal: Principal) -> Response:
    """Are you sure? Removing a day takes its schedule blocks with it. Without ``?dag=`` the
    moderator picks the day here."""
    db = resources_of(request).db
    days = await event_days(db)
    chosen = request.query_params.get("dag")
    day = next((d for d in days if d.day.isoformat() == chosen), None)
    if (chosen is not None and day is None) or not days:
        return await error_page(request, principal, DomainError("day.not_found"))
    counts: dict[str, int] = {
        row[0]: row[1]
        for row in await db.fetchall("SELECT day, COUNT(*) FROM schedule GROUP BY day")
    }
    context: dict[str, Any] = {
        "action": "/beheer/evenement/dagen/verwijderen",
        "back": "/beheer/evenement#dagen",
    }
    if day is not None:
        key = day.day.isoformat()
        n = counts.get(key, 0)
        context |= {
            "title": _("Dag %(day)s verwijderen?", day=key),
            "lines": [
                _("Open %(opens)s–%(closes)s.", opens=day.opens, closes=day.closes),
                _("Er staan %(n)s roosterblokken op deze dag; die worden ook verwijderd.", n=n),
            ],
            "hidden": {"day": key},
            "button": _("Ja, verwijder deze dag"),
        }
    else:
        context |= {
            "title": _("Welke dag verwijderen?"),
            "lines": [_("De roosterblokken van die dag worden ook verwijderd.")],
            "hidden": {},
            "choices": {
                "label": _("Dag"),
                "name": "day",
                "options": [
                    (
                        d.day.isoformat(),
                        _(
                            "%(day)s: %(n)s roosterblokken",
                            day=d.day.isoformat(),
                            n=counts.get(d.day.isoformat(), 0),
                        ),
                    )
                    for d in days
                ],
            },
            "button": _("Verwijder de gekozen dag"),
        }
    return await render(request, "admin_confirm.html", principal, context)


async def day_remove(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    day = form.get("day")
    try:
        blocks = await admin.remove_day(
            r.db, day if isinstance(day, str) else "", staff_id=principal.id, now=r.now()
        )
    except DomainError as error:
        return await error_page(request, principal, error)
    await r.live.hall_changed()
    return RedirectResponse(
        f"/beheer/evenement?opgeslagen=dag-weg&blokken={blocks}#dagen", status_code=303
    )


# -- booths ---------------------------------------------------------------------------------


def _booth_labels() -> dict[str, str]:
    return {
        "name": _("Naam"),
        "slug": _("Korte naam (in webadressen)"),
        "kind": _("Soort"),
        "sector": _("Sector"),
        "offers": _("Aanbod"),
        "description": _("Beschrijving"),
        "link": _("Website"),
        "direction": _("Richting"),
    }


async def booths_page(request: Request, principal: Principal) -> Response:
    return await _booths_page(request, principal)


async def _booths_page(
    request: Request,
    principal: Principal,
    *,
    problems: list[DomainError] | None = None,
    status_code: int = 200,
) -> Response:
    r = resources_of(request)
    all_booths = await booths.list_booths(r.db)
    advisors: dict[int, int] = {
        row[0]: row[1]
        for row in await r.db.fetchall(
            "SELECT booth_id, COUNT(*) FROM staff WHERE role = 'advisor' AND active = 1 "
            "GROUP BY booth_id"
        )
    }
    q = request.query_params
    context: dict[str, Any] = {
        "booths": all_booths,
        "advisors": advisors,
        "saved": q.get("opgeslagen", ""),
        "imported": (q.get("nieuw", ""), q.get("bijgewerkt", "")) if "nieuw" in q else None,
        "csv_columns": booth_admin.CSV_COLUMNS,
    }
    if problems:
        context["error_summary"] = [
            {"field": None, "label": "", "message": p.message()} for p in problems
        ]
    return await render(request, "admin_booths.html", principal, context, status_code)


async def _booth_form(
    request: Request,
    principal: Principal,
    booth: booths.Booth | None,
    *,
    values: dict[str, Any] | None = None,
    error: DomainError | None = None,
) -> Response:
    if values is None:
        values = (
            {
                "name": booth.name,
                "slug": booth.slug,
                "kind": booth.kind,
                "sector": booth.sector,
                "offers": list(booth.offers),
                "description": booth.description,
                "link": booth.link,
            }
            if booth
            else {"kind": "employer", "offers": []}
        )
    context: dict[str, Any] = {"booth": booth, "values": values}
    if error is not None:
        context.update(error_context(error, _booth_labels()))
    return await render(
        request, "admin_booth.html", principal, context, 200 if error is None else 400
    )


def _booth_values(form: FormData) -> tuple[dict[str, str], list[str]]:
    offers = [o for o in form.getlist("offers") if isinstance(o, str)]
    return fields_of(form), offers


async def booth_new_page(request: Request, principal: Principal) -> Response:
    return await _booth_form(request, principal, None)


async def booth_create(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    data, offers = _booth_values(form)
    try:
        booth_id = await booth_admin.create(r.db, data, offers, staff_id=principal.id, now=r.now())
    except DomainError as error:
        return await _booth_form(
            request, principal, None, values={**data, "offers": offers}, error=error
        )
    await r.live.hall_changed()
    return RedirectResponse(f"/beheer/rooster?stand={booth_id}&nieuw=1", status_code=303)


async def _booth_or_404(request: Request) -> booths.Booth | None:
    return await booths.get_booth(resources_of(request).db, int(request.path_params["booth_id"]))


async def booth_edit_page(request: Request, principal: Principal) -> Response:
    booth = await _booth_or_404(request)
    if booth is None:
        return await error_page(request, principal, DomainError("booth.not_found"))
    return await _booth_form(request, principal, booth)


async def booth_update(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    booth = await _booth_or_404(request)
    if booth is None:
        return await error_page(request, principal, DomainError("booth.not_found"))
    data, offers = _booth_values(form)
    try:
        await booth_admin.update(r.db, booth.id, data, offers, staff_id=principal.id, now=r.now())
    except DomainError as error:
        return await _booth_form(
            request, principal, booth, values={**data, "offers": offers}, error=error
        )
    await r.live.booths_changed([booth.id])
    return RedirectResponse("/beheer/stands?opgeslagen=stand", status_code=303)


async def booth_remove_page(request: Request, principal: Principal) -> Response:
    """Are you sure? Removing a booth deactivates its advisors."""
    booth = await _booth_or_404(request)
    if booth is None:
        return await error_page(request, principal, DomainError("booth.not_found"))
    advisors = int(
        await resources_of(request).db.fetchvalue(
            "SELECT COUNT(*) FROM staff WHERE booth_id = ? AND role = 'advisor' AND active = 1",
            (booth.id,),
        )
    )
    context = {
        "title": _("%(name)s verwijderen?", name=booth.name),
        "lines": [
            _("De stand verdwijnt uit de hal; in de rapportage blijft hij staan."),
            _("%(n)s adviseurs van deze stand worden uitgezet en uitgelogd.", n=advisors),
        ],
        "action": f"/beheer/stands/{booth.id}/verwijderen",
        "hidden": {},
        "button": _("Ja, verwijder deze stand"),
        "back": "/beheer/stands",
    }
    return await render(request, "admin_confirm.html", principal, context)


async def booth_remove(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    booth_id = int(request.path_params["booth_id"])
    try:
        advisors = await booth_admin.remove(r.db, booth_id, staff_id=principal.id, now=r.now())
    except DomainError as error:
        return await error_page(request, principal, error)
    for advisor_id in advisors:
        await r.live.staff_signed_out(advisor_id, "deactivated")
    await r.live.hall_changed()
    return RedirectResponse("/beheer/stands?opgeslagen=verwijderd", status_code=303)


async def booth_move(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    direction = form.get("direction")
    try:
        await booth_admin.move(
            r.db,
            int(request.path_params["booth_id"]),
            direction if isinstance(direction, str) else "",
            staff_id=principal.id,
            now=r.now(),
        )
    except DomainError as error:
        return await error_page(request, principal, error)
    await r.live.hall_changed()
    return RedirectResponse("/beheer/stands?opgeslagen=volgorde", status_code=303)


async def booths_csv(request: Request, principal: Principal) -> Response:
    db = resources_of(request).db
    body = booth_admin.export_csv(await booths.list_booths(db))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="stands.csv"',
            "Cache-Control": "no-store",
        },
    )


async def booths_import(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    upload = form.get("file")
    raw = b""
    if isinstance(upload, UploadFile):
        raw = await upload.read(booth_admin.CSV_MAX_BYTES + 1)
    if not raw:
        return await _booths_page(
            request, principal, problems=[DomainError("csv.unreadable")], status_code=400
        )
    try:
        result = await booth_admin.import_csv(r.db, raw, staff_id=principal.id, now=r.now())
    except booth_admin.ImportRefused as refused:
        return await _booths_page(request, principal, problems=refused.problems, status_code=400)
    except DomainError as error:
        return await _booths_page(request, principal, problems=[error], status_code=400)
    await r.live.hall_changed()
    return RedirectResponse(
        f"/beheer/stands?nieuw={result.created}&bijgewerkt={result.updated}", status_code=303
    )


# -- staff ----------------------------------------------------------------------------------


def _staff_labels() -> dict[str, str]:
    return {
        "name": _("Naam"),
        "email": _("E-mailadres"),
        "role": _("Rol"),
        "booth_id": _("Stand"),
    }


async def _staff_page(
    request: Request,
    principal: Principal,
    *,
    values: dict[str, str] | None = None,
    error: DomainError | None = None,
    link: tuple[str, str] | None = None,
) -> Response:
    r = resources_of(request)
    event = await load_event(r.db)
    now = r.now()
    people = await invitations.list_staff(r.db, now)
    context: dict[str, Any] = {
        "people": people,
        "booths": await booths.list_booths(r.db),
        "values": values or {"role": "advisor"},
        "saved": request.query_params.get("opgeslagen", ""),
        "link": link,
        "valid_until": {
            p.id: local_time(request, event.zone, p.pending_until)
            for p in people
            if p.pending_until
        },
        "invitation_days": invitations.INVITATION_DAYS,
    }
    if error is not None:
        context.update(error_context(error, _staff_labels()))
    return await render(
        request, "admin_staff.html", principal, context, 200 if error is None else status_for(error)
    )


async def staff_page(request: Request, principal: Principal) -> Response:
    return await _staff_page(request, principal)


def invitation_url(request: Request, token: str) -> str:
    return str(request.base_url).rstrip("/") + f"/uitnodiging/{token}"


async def staff_create(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    data = fields_of(form)
    try:
        _new_id, token = await invitations.invite(r.db, data, actor=principal.id, now=r.now())
    except DomainError as error:
        return await _staff_page(request, principal, values=data, error=error)
    if data.get("role") == "advisor":
        await r.live.overview_changed()
    return await _staff_page(
        request, principal, link=(data.get("name", "").strip(), invitation_url(request, token))
    )


def _staff_id(request: Request) -> int:
    return int(request.path_params["staff_id"])


async def staff_new_link(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    try:
        token = await invitations.new_invitation(
            r.db, _staff_id(request), actor=principal.id, now=r.now()
        )
    except DomainError as error:
        return await error_page(request, principal, error)
    person = next(
        p for p in await invitations.list_staff(r.db, r.now()) if p.id == _staff_id(request)
    )
    return await _staff_page(request, principal, link=(person.name, invitation_url(request, token)))


async def staff_active(request: Request, principal: Principal) -> Response:
    """Deactivate (``active=0``) or reactivate (``active=1``) an account."""
    r = resources_of(request)
    form = await read_form(request)
    staff_id = _staff_id(request)
    active = form.get("active")
    try:
        if active == "0":
            booth_id = await invitations.deactivate(r.db, staff_id, actor=principal.id, now=r.now())
        elif active == "1":
            booth_id = await invitations.reactivate(r.db, staff_id, actor=principal.id, now=r.now())
        else:
            raise DomainError("input.bad_choice")
    except DomainError as error:
        return await error_page(request, principal, error)
    if active == "0":
        await r.live.staff_signed_out(staff_id, "deactivated")
    if booth_id is not None:
        await r.live.booths_changed([booth_id])
    saved = "uit" if active == "0" else "aan"
    return RedirectResponse(
        f"/beheer/medewerkers?opgeslagen={saved}#medewerker-{staff_id}", status_code=303
    )


async def staff_assign(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    staff_id = _staff_id(request)
    booth_text = form.get("booth_id")
    try:
        old, new = await invitations.assign(
            r.db,
            staff_id,
            booth_text if isinstance(booth_text, str) else "",
            actor=principal.id,
            now=r.now(),
        )
    except DomainError as error:
        return await error_page(request, principal, error)
    if old != new:
        # Their sessions ended: their pages close and ask them to log in at the new booth.
        await r.live.staff_signed_out(staff_id, "moved")
        await r.live.booths_changed([old, new])
    return RedirectResponse(
        f"/beheer/medewerkers?opgeslagen=stand#medewerker-{staff_id}", status_code=303
    )


# -- schedule -------------------------------------------------------------------------------


def _schedule_labels() -> dict[str, str]:
    return {
        "day": _("Dag"),
        "starts": _("Van"),
        "ends": _("Tot"),
        "staff_id": _("Adviseur"),
    }


async def _schedule_page(
    request: Request,
    principal: Principal,
    booth: booths.Booth | None,
    *,
    values: dict[str, str] | None = None,
    error: DomainError | None = None,
) -> Response:
    r = resources_of(request)
    days = await event_days(r.db)
    all_booths = await booths.list_booths(r.db)
    blocks = await schedule_admin.blocks_of(r.db, booth.id) if booth else []
    advisors = []
    if booth is not None:
        advisors = await r.db.fetchall(
            "SELECT id, name FROM staff WHERE booth_id = ? AND role = 'advisor' AND active = 1 "
            "ORDER BY name COLLATE DUTCH_NAME",
            (booth.id,),
        )
    if values is None:
        values = {"day": days[0].day.isoformat() if days else "", "starts": "", "ends": ""}
    context: dict[str, Any] = {
        "booth": booth,
        "all_booths": all_booths,
        "days": days,
        "blocks": blocks,
        "advisors": advisors,
        "values": values,
        "created": request.query_params.get("nieuw") == "1",
        "saved": request.query_params.get("opgeslagen", ""),
    }
    if error is not None:
        context.update(error_context(error, _schedule_labels()))
    status = 200 if error is None else status_for(error)
    return await render(request, "admin_schedule.html", principal, context, status)


async def schedule_page(request: Request, principal: Principal) -> Response:
    """The schedule of the booth chosen (``?stand=``), else of the first booth in the hall."""
    db = resources_of(request).db
    chosen = request.query_params.get("stand", "")
    booth = None
    if chosen:
        if chosen.isdigit() and len(chosen) < 16:
            booth = await booths.get_booth(db, int(chosen))
        if booth is None:
            return await error_page(request, principal, DomainError("booth.not_found"))
    else:
        booth = next(iter(await booths.list_booths(db)), None)
    return await _schedule_page(request, principal, booth)


async def schedule_add(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    form = await read_form(request)
    booth = await _booth_or_404(request)
    if booth is None:
        return await error_page(request, principal, DomainError("booth.not_found"))
    data = fields_of(form)
    try:
        await schedule_admin.add(r.db, booth.id, data, actor=principal.id, now=r.now())
    except DomainError as error:
        return await _schedule_page(request, principal, booth, values=data, error=error)
    await r.live.booths_changed([booth.id])
    return RedirectResponse(f"/beheer/rooster?stand={booth.id}&opgeslagen=blok", status_code=303)


async def schedule_remove(request: Request, principal: Principal) -> Response:
    r = resources_of(request)
    try:
        booth_id = await schedule_admin.remove(
            r.db, int(request.path_params["slot_id"]), actor=principal.id, now=r.now()
        )
    except DomainError as error:
        return await error_page(request, principal, error)
    await r.live.booths_changed([booth_id])
    return RedirectResponse(f"/beheer/rooster?stand={booth_id}&opgeslagen=weg", status_code=303)


# -- the invitation link (anyone who has it) ------------------------------------------------


def _password_labels() -> dict[str, str]:
    return {"new": _("Nieuw wachtwoord"), "repeat": _("Nieuw wachtwoord nog een keer")}


async def invitation_page(request: Request) -> Response:
    r = resources_of(request)
    principal = await principal_of_request(request)
    try:
        invitation = await invitations.find(r.db, request.path_params["token"], r.now())
    except DomainError as error:
        return await error_page(request, principal, error)
    context = {
        "invitation": invitation,
        "token": request.path_params["token"],
        "min_length": MIN_PASSWORD_LENGTH,
    }
    return await render(request, "invitation.html", principal, context)


async def invitation_submit(request: Request, principal: Principal) -> Response:
    """Whoever holds the link sets the password: the link is the credential."""
    r = resources_of(request)
    form = await read_form(request)
    token = request.path_params["token"]
    new, repeat = form.get("new"), form.get("repeat")
    try:
        invitation = await invitations.accept(
            r.db,
            token,
            new=new if isinstance(new, str) else "",
            repeat=repeat if isinstance(repeat, str) else "",
            now=r.now(),
        )
    except DomainError as error:
        if error.code.startswith("invitation."):
            return await error_page(request, principal, error)
        found = await invitations.find(r.db, token, r.now())
        context = {
            "invitation": found,
            "token": token,
            "min_length": MIN_PASSWORD_LENGTH,
            **error_context(error, _password_labels()),
        }
        return await render(request, "invitation.html", principal, context, 400)
    # Any session the account had (a reset link) ended: its sockets close everywhere.
    await r.live.staff_signed_out(invitation.staff_id, "password_changed")
    return RedirectResponse("/inloggen?wachtwoord=gewijzigd", status_code=303)


routes: list[BaseRoute] = [
    Route("/beheer", for_moderators(index_page), methods=["GET"]),
    Route("/beheer/evenement", for_moderators(event_page), methods=["GET"]),
    Route("/beheer/evenement", for_moderators(event_submit), methods=["POST"]),
    Route("/beheer/evenement/dagen", for_moderators(day_submit), methods=["POST"]),
    Route("/beheer/evenement/klaar", for_moderators(readiness_submit), methods=["POST"]),
    Route("/beheer/evenement/verlengen", for_moderators(extension_submit), methods=["POST"]),
    Route("/beheer/evenement/dagen/verwijderen", for_moderators(day_remove_page), methods=["GET"]),
    Route("/beheer/evenement/dagen/verwijderen", for_moderators(day_remove), methods=["POST"]),
    Route("/beheer/stands", for_moderators(booths_page), methods=["GET"]),
    Route("/beheer/stands", for_moderators(booth_create), methods=["POST"]),
    Route("/beheer/stands.csv", for_moderators(booths_csv), methods=["GET"]),
    Route("/beheer/stands/import", for_moderators(booths_import), methods=["POST"]),
    Route("/beheer/stands/nieuw", for_moderators(booth_new_page), methods=["GET"]),
    Route("/beheer/stands/{booth_id:int}", for_moderators(booth_edit_page), methods=["GET"]),
    Route("/beheer/stands/{booth_id:int}", for_moderators(booth_update), methods=["POST"]),
    Route(
        "/beheer/stands/{booth_id:int}/verwijderen",
        for_moderators(booth_remove_page),
        methods=["GET"],
    ),
    Route(
        "/beheer/stands/{booth_id:int}/verwijderen",
        for_moderators(booth_remove),
        methods=["POST"],
    ),
    Route(
        "/beheer/stands/{booth_id:int}/verplaatsen", for_moderators(booth_move), methods=["POST"]
    ),
    Route("/beheer/medewerkers", for_moderators(staff_page), methods=["GET"]),
    Route("/beheer/medewerkers", for_moderators(staff_create), methods=["POST"]),
    Route(
        "/beheer/medewerkers/{staff_id:int}/stand", for_moderators(staff_assign), methods=["POST"]
    ),
    Route(
        "/beheer/medewerkers/{staff_id:int}/actief",
        for_moderators(staff_active),
        methods=["POST"],
    ),
    Route(
        "/beheer/medewerkers/{staff_id:int}/uitnodiging",
        for_moderators(staff_new_link),
        methods=["POST"],
    ),
    Route("/beheer/rooster", for_moderators(schedule_page), methods=["GET"]),
    Route("/beheer/rooster/{booth_id:int}", for_moderators(schedule_add), methods=["POST"]),
    Route(
        "/beheer/rooster/blok/{slot_id:int}/verwijderen",
        for_moderators(schedule_remove),
        methods=["POST"],
    ),
    Route("/uitnodiging/{token}", invitation_page, methods=["GET"]),
    Route("/uitnodiging/{token}", anyone(invitation_submit), methods=["POST"]),
]
