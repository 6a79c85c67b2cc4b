"""Reports: CSV exports and the printable post-event report. For the moderator only."""

from __future__ import annotations

from datetime import date
from typing import Any

from babel.numbers import format_decimal
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from app.core.i18n import current_language, format_number
from app.core.i18n import gettext as _
from app.domain import charts, reports
from app.domain.event import load_event
from app.domain.principals import Principal
from app.web.pages.common import principal_of_request, refuse, render, resources_of
from app.web.templating import day_label

DAY_FIELD = "dag"


class BadDay(Exception):
    """The day filter is not a date."""


def _day_filter(request: Request) -> date | None:
    value = request.query_params.get(DAY_FIELD, "")
    if value == "":
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise BadDay(value) from None


def _bad_day_context() -> dict[str, Any]:
    """A day filter that is no date: the form says so at the field; nothing else changes."""
    message = _("Kies een dag uit de lijst, of het hele evenement.")
    return {
        "errors": {DAY_FIELD: message},
        "error_summary": [{"field": DAY_FIELD, "label": _("Dag"), "message": message}],
    }


def minutes_label(seconds: float | None) -> str:
    """A duration as whole minutes and seconds, e.g. "4 min. 30 s"; a dash without one."""
    if seconds is None:
        return "–"
    whole = round(seconds)
    minutes, rest = divmod(whole, 60)
    if minutes == 0:
        return _("%(s)s s", s=rest)
    if rest == 0:
        return _("%(m)s min.", m=minutes)
    return _("%(m)s min. %(s)s s", m=minutes, s=rest)


def bucket_label(bucket: reports.Bucket) -> str:
    lower = bucket.lower // 60
    if bucket.upper is None:
        return _("%(n)s+ min.", n=lower)
    return _("%(a)s–%(b)s min.", a=lower, b=bucket.upper // 60)


def rating_label(value: float | None) -> str:
    """An average rating with one decimal, as the language writes it ("4,5" / "4.5")."""
    return (
        "–"
        if value is None
        else format_decimal(round(value, 1), format="0.0", locale=current_language())
    )


def share_label(value: float | None) -> str:
    return "–" if value is None else f"{format_number(round(100 * value))}%"


def report_charts(report: reports.Report) -> dict[str, Any]:
    """The report's charts, drawn by app/domain/charts.py; hours per day, then the distributions."""
    hours = []
    for day, rows in report.hours.items():
        hours.append(
            charts.lines(
                _("Aanvragen en gesprekken per uur, %(day)s", day=day_label(day)),
                [f"{r.hour:02d}:00" for r in rows],
                [
                    (_("Aanvragen"), [r.requests for r in rows]),
                    (_("Gesprekken begonnen"), [r.conversations for r in rows]),
                ],
                unit=_("aantal"),
                axis=_("Uur"),
            )
        )
    waits = charts.bars(
        _("Wachttijd tot het gesprek"),
        [bucket_label(b) for b in report.waits],
        [b.count for b in report.waits],
        unit=_("aanvragen"),
        axis=_("Wachttijd"),
    )
    lengths = charts.bars(
        _("Lengte van de gesprekken"),
        [bucket_label(b) for b in report.lengths],
        [b.count for b in report.lengths],
        unit=_("gesprekken"),
        axis=_("Lengte"),
    )
    per_booth = charts.bars(
        _("Gesprekken per stand"),
        [b.name for b in report.booths],
        [b.conversations for b in report.booths],
        unit=_("gesprekken"),
        axis=_("Stand"),
    )
    return {"hours": hours, "waits": waits, "lengths": lengths, "per_booth": per_booth}


async def _moderator(request: Request) -> tuple[Principal, Response | None]:
    principal = await principal_of_request(request)
    if principal.role != "moderator":
        return principal, await refuse(request, principal, "/inloggen")
    return principal, None


async def report_page(request: Request) -> Response:
    principal, refused = await _moderator(request)
    if refused is not None:
        return refused
    r = resources_of(request)
    event = await load_event(r.db)
    days = await reports.report_days(r.db, event)
    status = 200
    context: dict[str, Any] = {"days": days, "day": None, "labels": _LABELS}
    try:
        day = _day_filter(request)
    except BadDay:
        day = None
        status = 400
        context.update(_bad_day_context())
    if day is not None and day not in days:
        days = sorted([*days, day])  # a day asked for by its address stays chosen in the list
    report = await reports.report(r.db, event, day)
    context.update(
        {
            "event": event,
            "day": day,
            "days": days,
            "report": report,
            "charts": report_charts(report),
            "query": f"?{DAY_FIELD}={day.isoformat()}" if day else "",
            "generated_at": r.now(),
            "generated_day": event.local(r.now()).date(),
        }
    )
    return await render(request, "report.html", principal, context, status)


_LABELS = {
    "minutes": minutes_label,
    "rating": rating_label,
    "share": share_label,
    "bucket": bucket_label,
}


def _csv_response(export: reports.Export, day: date | None) -> Response:
    return Response(
        export.to_csv(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename(day)}"',
            "Cache-Control": "no-store",
        },
    )


def _csv_route(kind: str) -> Any:
    async def download(request: Request) -> Response:
        principal, refused = await _moderator(request)
        if refused is not None:
            return refused
        r = resources_of(request)
        try:
            day = _day_filter(request)
        except BadDay:
            return await render(request, "error.html", principal, _bad_day_context(), 400)
        event = await load_event(r.db)
        if kind == "requests":
            export = await reports.export_requests(r.db, event, day)
        elif kind == "conversations":
            export = await reports.export_conversations(r.db, event, r.now(), day)
        elif kind == "follow_ups":
            export = await reports.export_follow_ups(r.db, event, day)
        else:
            export = await reports.export_feedback(r.db, event, day)
        return _csv_response(export, day)

    download.__name__ = f"download_{kind}"
    return download


routes: list[BaseRoute] = [
    Route("/rapport", report_page, methods=["GET"]),
    Route("/rapport/aanvragen.csv", _csv_route("requests"), methods=["GET"]),
    Route("/rapport/gesprekken.csv", _csv_route("conversations"), methods=["GET"]),
    Route("/rapport/vervolgafspraken.csv", _csv_route("follow_ups"), methods=["GET"]),
    Route("/rapport/feedback.csv", _csv_route("feedback"), methods=["GET"]),
]
