"""Administration: the event, booths, staff and schedule, through forms (moderators only);
and the invitation link through which a new member of staff sets their password.

Each form gives one command of ``app.commands.setup`` through ``guards.submit``: the route
checks the role and the middleware the CSRF token, the domain modules behind the commands
(``app.domain.event_setup``, ``app.domain.booth_setup``, ``app.domain.invitations``,
``app.domain.schedule``) check the fields, a refusal shows the same form again with its
errors, and what a command changed is published by the command itself (the hall, the
booth's advisors, the moderators, the sessions it ended). The pages read through those
domain modules too: no SQL here.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from app.commands import actions
from app.core.errors import DomainError
from app.core.i18n import gettext as _
from app.domain import booth_setup as booth_admin
from app.domain import booths, extension, invitations, readiness
from app.domain import event_setup as admin
from app.domain import schedule as schedule_admin
from app.domain.accounts import (
    MIN_PASSWORD_LENGTH,
    active_staff_count,
    advisors_of_booth,
    advisors_per_booth,
)
from app.domain.event import event_days, load_event
from app.domain.principals import Principal
from app.web.pages.common import (
    error_context,
    error_page,
    principal_of_request,
    read_form,
    render,
    resources_of,
    status_for,
)
from app.web.pages.guards import anyone, fields_for, fields_of, for_moderators, submit

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
        "staff": await active_staff_count(db),
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
    return await submit(
        request,
        principal,
        "event.settings",
        done="/beheer/evenement?opgeslagen=instellingen",
        again=lambda values, error: _event_page(request, principal, values=values, error=error),
    )


async def extension_submit(request: Request, principal: Principal) -> Response:
    return await submit(
        request,
        principal,
        "event.extension_settings",
        done="/beheer/evenement?opgeslagen=verlengen#verlengen",
        again=lambda values, error: _event_page(
            request, principal, extension_values=values, error=error
        ),
    )


async def readiness_submit(request: Request, principal: Principal) -> Response:
    """The readiness prompt and no-show limits (app.domain.readiness)."""
    return await submit(
        request,
        principal,
        "event.readiness_settings",
        done="/beheer/evenement?opgeslagen=klaar#klaar",
        again=lambda values, error: _event_page(
            request, principal, readiness_values=values, error=error
        ),
    )


async def day_submit(request: Request, principal: Principal) -> Response:
    return await submit(
        request,
        principal,
        "day.save",
        done="/beheer/evenement?opgeslagen=dag#dagen",
        again=lambda values, error: _event_page(request, principal, day_values=values, error=error),
    )


async def day_remove_page(request: Request, principal: Principal) -> Response:
    """Are you sure? Removing a day takes its schedule blocks with it. Without ``?dag=`` the
    moderator picks the day here."""
    db = resources_of(request).db
    days = await event_days(db)
    chosen = request.query_params.get("dag")
    day = next((d for d in days if d.day.isoformat() == chosen), None)
    if (chosen is not None and day is None) or not days:
        return await error_page(request, principal, DomainError("day.not_found"))
    counts = await schedule_admin.blocks_per_day(db)
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
    return await submit(
        request,
        principal,
        "day.remove",
        done=lambda reply: (
            f"/beheer/evenement?opgeslagen=dag-weg&blokken={reply['blocks_removed']}#dagen"
        ),
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
    db = resources_of(request).db
    q = request.query_params
    context: dict[str, Any] = {
        "booths": await booths.list_booths(db),
        "advisors": await advisors_per_booth(db),
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


async def _offers(request: Request) -> list[str]:
    """The offers ticked on a booth's form: the field comes once for every box ticked."""
    return [o for o in (await read_form(request)).getlist("offers") if isinstance(o, str)]


async def booth_new_page(request: Request, principal: Principal) -> Response:
    return await _booth_form(request, principal, None)


async def booth_create(request: Request, principal: Principal) -> Response:
    offers = await _offers(request)
    return await submit(
        request,
        principal,
        "booth.create",
        extra={"offers": offers},
        done=lambda reply: f"/beheer/rooster?stand={reply['booth_id']}&nieuw=1",
        again=lambda values, error: _booth_form(
            request, principal, None, values={**values, "offers": offers}, error=error
        ),
    )


async def _booth_or_404(request: Request) -> booths.Booth | None:
    return await booths.get_booth(resources_of(request).db, int(request.path_params["booth_id"]))


async def booth_edit_page(request: Request, principal: Principal) -> Response:
    booth = await _booth_or_404(request)
    if booth is None:
        return await error_page(request, principal, DomainError("booth.not_found"))
    return await _booth_form(request, principal, booth)


async def booth_update(request: Request, principal: Principal) -> Response:
    booth = await _booth_or_404(request)
    if booth is None:
        return await error_page(request, principal, DomainError("booth.not_found"))
    offers = await _offers(request)
    return await submit(
        request,
        principal,
        "booth.update",
        extra={"booth_id": booth.id, "offers": offers},
        done="/beheer/stands?opgeslagen=stand",
        again=lambda values, error: _booth_form(
            request, principal, booth, values={**values, "offers": offers}, error=error
        ),
    )


async def booth_remove_page(request: Request, principal: Principal) -> Response:
    """Are you sure? Removing a booth deactivates its advisors."""
    booth = await _booth_or_404(request)
    if booth is None:
        return await error_page(request, principal, DomainError("booth.not_found"))
    advisors = (await advisors_per_booth(resources_of(request).db)).get(booth.id, 0)
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
    """Its advisors are deactivated and signed out with it (the command ends their sessions)."""
    return await submit(
        request,
        principal,
        "booth.remove",
        data={"booth_id": int(request.path_params["booth_id"])},
        done="/beheer/stands?opgeslagen=verwijderd",
    )


async def booth_move(request: Request, principal: Principal) -> Response:
    booth_id = int(request.path_params["booth_id"])
    return await submit(
        request,
        principal,
        "booth.move",
        extra={"booth_id": booth_id},
        done="/beheer/stands?opgeslagen=volgorde",
    )


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
    """The uploaded CSV file; no file (or an empty one) is refused by the command."""
    upload = (await read_form(request)).get("file")
    raw = b""
    if isinstance(upload, UploadFile):
        # One byte over the limit is enough for the domain to refuse the file as too large.
        raw = await upload.read(booth_admin.CSV_MAX_BYTES + 1)

    async def again(_values: dict[str, str], error: DomainError) -> Response:
        problems = error.problems if isinstance(error, booth_admin.ImportRefused) else [error]
        return await _booths_page(request, principal, problems=problems, status_code=400)

    return await submit(
        request,
        principal,
        "booth.import",
        data={"file": raw},
        done=lambda reply: f"/beheer/stands?nieuw={reply['created']}&bijgewerkt={reply['updated']}",
        again=again,
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
    """Done, the same page shows the new invitation link (once: only its hash is kept)."""
    values = fields_of(await read_form(request))
    try:
        reply = await actions.perform(
            resources_of(request),
            principal,
            "staff.invite",
            fields_for("staff.invite", values),
            form=True,
        )
    except DomainError as error:
        return await _staff_page(request, principal, values=values, error=error)
    link = (reply["name"], invitation_url(request, reply["token"]))
    return await _staff_page(request, principal, link=link)


def _staff_id(request: Request) -> int:
    return int(request.path_params["staff_id"])


async def staff_new_link(request: Request, principal: Principal) -> Response:
    """A new invitation link (the old one stops working), shown on the staff page."""
    r = resources_of(request)
    staff_id = _staff_id(request)
    try:
        reply = await actions.perform(
            r, principal, "staff.new_link", {"staff_id": staff_id}, form=True
        )
    except DomainError as error:
        return await error_page(request, principal, error)
    person = next(p for p in await invitations.list_staff(r.db, r.now()) if p.id == staff_id)
    return await _staff_page(
        request, principal, link=(person.name, invitation_url(request, reply["token"]))
    )


# ``active`` as the form sends it: the command, and what the page says was saved.
_ACTIVE = {"0": ("staff.deactivate", "uit"), "1": ("staff.reactivate", "aan")}


async def staff_active(request: Request, principal: Principal) -> Response:
    """Deactivate (``active=0``, which signs them out) or reactivate (``active=1``) an account."""
    chosen = _ACTIVE.get(fields_of(await read_form(request)).get("active", ""))
    if chosen is None:
        return await error_page(request, principal, DomainError("input.bad_choice"))
    command, saved = chosen
    staff_id = _staff_id(request)
    return await submit(
        request,
        principal,
        command,
        data={"staff_id": staff_id},
        done=f"/beheer/medewerkers?opgeslagen={saved}#medewerker-{staff_id}",
    )


async def staff_assign(request: Request, principal: Principal) -> Response:
    """Moved to another booth, an advisor is signed out (the command ends their sessions)."""
    staff_id = _staff_id(request)
    return await submit(
        request,
        principal,
        "staff.assign",
        extra={"staff_id": staff_id},
        done=f"/beheer/medewerkers?opgeslagen=stand#medewerker-{staff_id}",
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
    advisors = await advisors_of_booth(r.db, booth.id) if booth else []
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
    booth = await _booth_or_404(request)
    if booth is None:
        return await error_page(request, principal, DomainError("booth.not_found"))
    return await submit(
        request,
        principal,
        "schedule.add",
        extra={"booth_id": booth.id},
        done=f"/beheer/rooster?stand={booth.id}&opgeslagen=blok",
        again=lambda values, error: _schedule_page(
            request, principal, booth, values=values, error=error
        ),
    )


async def schedule_remove(request: Request, principal: Principal) -> Response:
    return await submit(
        request,
        principal,
        "schedule.remove",
        data={"slot_id": int(request.path_params["slot_id"])},
        done=lambda reply: f"/beheer/rooster?stand={reply['booth_id']}&opgeslagen=weg",
    )


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
