# ruff: noqa: E501  (the rule tables are one line per route or action, on purpose)
"""The authorisation matrix: every HTTP route and every WebSocket action of the assembled app,
tried by six principals against a real server process on a real SQLite file.

The principals, relative to one booth ("this booth", booth A) and one candidate's data:

- ``anonymous``: nobody signed in;
- ``candidate``: the candidate whose request or conversation is acted on;
- ``other_candidate``: another signed-in candidate acting on that candidate's things;
- ``advisor``: an advisor of this booth (the one in the conversation, when there is one);
- ``other_advisor``: an advisor of another booth acting on this booth's things;
- ``moderator``.

The expected answers live in ``HTTP_RULES`` and ``ACTION_RULES``: one line per route or
action, one outcome per principal in the order above. A route of the app or an action of
``actions.REGISTRY`` without a line fails ``test_every_route_and_action_has_a_rule``: add
the line. A refusal must change nothing in the database and give the documented answer:
a redirect to sign in, a 403 page, or the error code of the protocol.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from websockets.exceptions import InvalidStatus

from app.commands import actions
from app.core.config import Settings
from app.core.errors import MESSAGES
from app.web.server import create_app
from tests.livekit import Browserless, LiveServer, World, db_value

PRINCIPALS = ("anonymous", "candidate", "other_candidate", "advisor", "other_advisor", "moderator")

# -- outcomes -------------------------------------------------------------------------------
# One token per principal. HTTP: "200", "401", ... (a status); "SI" a redirect to the
# candidate sign-in (with ``next``); "LI" a redirect to the staff log-in; "F" the 403 page of
# ``auth.forbidden``; "S" the 403 page of ``auth.sign_in_required``; "303:/path" a redirect
# there ("/path/" or "...=" at the end: a prefix); "404:code" an error page with that code's
# message. WebSocket: "ok", "S" (``auth.sign_in_required``), "F" (``auth.forbidden``) or the
# error code of the reply.
HTTP_TOKENS = {
    "SI": "303 /aanmelden?next=",
    "LI": "303 /inloggen",
    "F": "403 auth.forbidden",
    "S": "403 auth.sign_in_required",
}
WS_TOKENS = {"S": "auth.sign_in_required", "F": "auth.forbidden"}
WS_OK = "ok"


@dataclass(frozen=True)
class Probe:
    """One request (``METHOD /path`` with ``{booth}``, ``{request}``, ``{conversation}``,
    ``{key}`` filled from the scene), the scene it needs, and the answer per principal."""

    target: str
    expect: tuple[str, ...]
    form: dict[str, str] = field(default_factory=dict)
    # "fresh" (no request yet), "request", "addressed" (a request for the advisor's
    # colleague at the same booth), "conversation" or "ended" (that conversation ended)
    scene: str = "request"
    renews: bool = False  # signs the principal in or out: they sign in again afterwards

    @property
    def method(self) -> str:
        return self.target.split(" ", 1)[0]

    @property
    def path(self) -> str:
        return self.target.split(" ", 1)[1]


def http(
    target: str, expect: str, scene: str = "request", renews: bool = False, **form: str
) -> Probe:
    tokens = expect.split()
    assert len(tokens) == len(PRINCIPALS), target
    outcomes = tuple(HTTP_TOKENS.get(t, t.replace(":", " ", 1)) for t in tokens)
    return Probe(target, outcomes, form, scene, renews)


SIGN_IN = {"name": "Nieuwe Naam", "email": "nieuw@example.nl", "consent": "yes", "next": "/"}
LOGIN = {"email": "mod@test.example", "password": "test-password-123"}
PASSWORD = {
    "current": "not-the-password",
    "new": "another-password-1",
    "repeat": "another-password-1",
}
REQ = {"request_id": "{request}"}
CONV = {"conversation_id": "{conversation}"}
CONVERSATION = "conversation"
EVENT_FORM = {
    "name": "Testbeurs",
    "timezone": "Europe/Amsterdam",
    "conversation_minutes": "10",
    "warning_minutes": "2",
    "video_provider": "jitsi",
    "video_base_url": "https://meet.example.test",
    "wait_alert_minutes": "10",
    "overtime_alert_minutes": "3",
}

# fmt: off
# principals:                     anonymous candidate other_candidate advisor other_advisor moderator
HTTP_RULES: list[Probe] = [
    http("GET /",                                 "200 200 200 200 200 200"),
    http("GET /aanmelden",                        "200 303:/ 303:/ 200 200 200"),
    http("POST /aanmelden",                       "303:/ 303:/ 303:/ 303:/ 303:/ 303:/", renews=True, **SIGN_IN),
    http("GET /inzoomen/{booth}",                 "SI 200 200 F F F"),
    http("POST /inzoomen/{booth}",                "SI 303:/mijn-verzoek 303:/mijn-verzoek F F F", "fresh", question="Mag ik?", client_key="{key}"),
    http("GET /mijn-verzoek",                     "SI 200 200 F F F"),
    http("POST /mijn-verzoek/annuleren",          "S 303:/mijn-verzoek 404:request.not_found F F F", **REQ),
    http("GET /inloggen",                         "200 200 200 200 200 200"),
    http("POST /inloggen",                        "303:/moderator " * 6, renews=True, **LOGIN),
    http("POST /uitloggen",                       "303:/ 303:/ 303:/ 303:/ 303:/ 303:/", renews=True),
    http("GET /wachtwoord",                       "LI F F 200 200 200"),
    http("POST /wachtwoord",                      "S F F 400 400 400", **PASSWORD),
    http("GET /adviseur",                         "LI F F 200 200 F"),
    http("POST /adviseur/status",                 "S F F 303:/adviseur 303:/adviseur F", status="paused"),
    http("POST /adviseur/accepteren",             "S F F 303:/adviseur 404:request.not_found F", **REQ),
    http("POST /adviseur/afwijzen",               "S F F 303:/adviseur 404:request.not_found F", message="Sorry", **REQ),
    http("POST /adviseur/accepteren",             "S F F 409:request.not_waiting 404:request.not_found F", "addressed", **REQ),
    http("POST /adviseur/afwijzen",               "S F F 409:request.not_waiting 404:request.not_found F", "addressed", message="Sorry", **REQ),
    http("POST /adviseur/beeindigen",             "S F F 303:/adviseur 404:conversation.not_found F", CONVERSATION, **CONV),
    http("POST /adviseur/notities",               "S F F 303:/adviseur 404:conversation.not_found F", CONVERSATION, notes="N", **CONV),
    http("GET /moderator",                        "LI F F F F 200"),
    http("GET /gesprekken/{conversation}",        "LI F F 200 404:conversation.not_found 200", CONVERSATION),
    http("POST /gesprekken/{conversation}/notities", "S F F 303:/gesprekken/ 404:conversation.not_found F", CONVERSATION, notes="N"),
    http("GET /mijn-gegevens",                    "SI 200 200 F F F"),
    http("GET /mijn-gegevens/download",           "SI 200 200 F F F"),
    http("GET /mijn-gegevens/wissen",             "SI 200 200 F F F"),
    http("POST /mijn-gegevens/wissen",            "S 303:/mijn-gegevens/gewist 303:/mijn-gegevens/gewist F F F", renews=True, confirm="yes"),
    http("GET /mijn-gegevens/gewist",             "200 200 200 200 200 200"),
    http("GET /taal/en",                          "303:/ 303:/ 303:/ 303:/ 303:/ 303:/"),
    http("GET /toegankelijkheid",                 "200 200 200 200 200 200"),
    http("GET /privacy",                          "200 200 200 200 200 200"),
    http("GET /healthz",                          "200 200 200 200 200 200"),
    http("GET /readyz",                           "200 200 200 200 200 200"),
    http("GET /metrics",                          "401 403 403 403 403 200"),
    http("GET /static/js/live.js",                "200 200 200 200 200 200"),
    http("WS /ws",                                "anonymous candidate candidate advisor advisor moderator"),
    # the moderator's dashboard
    http("GET /moderator/grafieken",              "LI F F F F 200"),
    # the moderator steps in; the audit log
    http("GET /moderator/ingrijpen",              "LI F F F F 200"),
    http("POST /moderator/ingrijpen/stand-sluiten", "S F F F F 400:input.confirm", booth_id="{booth}", waiting="999"),
    http("POST /moderator/ingrijpen/stand-sluiten", "S F F F F 303:/moderator/ingrijpen?gedaan=", booth_id="{booth}", waiting="999", confirm="yes"),
    http("POST /moderator/ingrijpen/stand-openen", "S F F F F 303:/moderator/ingrijpen?gedaan=", "fresh", booth_id="{booth}"),
    http("POST /moderator/ingrijpen/verplaatsen", "S F F F F 409:moderation.no_change", booth_id="{booth}", **REQ),
    http("POST /moderator/ingrijpen/gesprek-beeindigen", "S F F F F 303:/moderator/ingrijpen?gedaan=", CONVERSATION, confirm="yes", **CONV),
    http("POST /moderator/ingrijpen/gesprek-beeindigen", "S F F F F 400:input.confirm", CONVERSATION, **CONV),
    http("POST /moderator/ingrijpen/blokkeren",   "S F F F F 404:candidate.not_found", candidate_id="999999", confirm="yes"),
    http("POST /moderator/ingrijpen/deblokkeren", "S F F F F 404:candidate.not_found", candidate_id="999999"),
    http("POST /moderator/ingrijpen/evenement-sluiten", "S F F F F 400:input.confirm", "fresh"),
    http("POST /moderator/ingrijpen/evenement-openen", "S F F F F 409:moderation.no_change", "fresh"),
    http("GET /moderator/logboek",                "LI F F F F 200"),
    # announcements
    http("GET /moderator/mededelingen",           "LI F F F F 200"),
    http("POST /moderator/mededelingen",          "S F F F F 303:/moderator/mededelingen?gedaan=", text="Hallo allemaal", audience="all"),
    http("POST /moderator/mededelingen/999999/beeindigen", "S F F F F 404:announcement.not_found"),
    # administration
    http("GET /beheer",                           "LI F F F F 200"),
    http("GET /beheer/evenement",                 "LI F F F F 200"),
    http("POST /beheer/evenement",                "S F F F F 303:/beheer/evenement?opgeslagen=instellingen", **EVENT_FORM),
    http("POST /beheer/evenement/dagen",          "S F F F F 303:/beheer/evenement?opgeslagen=dag#dagen", day="2030-01-02", opens="09:00", closes="17:00"),
    http("GET /beheer/evenement/dagen/verwijderen", "LI F F F F 200"),
    http("POST /beheer/evenement/dagen/verwijderen", "S F F F F 404:day.not_found", day="1999-01-01"),
    http("GET /beheer/stands",                    "LI F F F F 200"),
    http("POST /beheer/stands",                   "S F F F F 303:/beheer/rooster?stand=", name="Nieuwe stand", kind="school", sector="onderwijs"),
    http("GET /beheer/stands.csv",                "LI F F F F 200"),
    http("POST /beheer/stands/import",            "S F F F F 400:csv.unreadable"),
    http("GET /beheer/stands/nieuw",              "LI F F F F 200"),
    http("GET /beheer/stands/{booth}",            "LI F F F F 200"),
    http("POST /beheer/stands/{booth}",           "S F F F F 303:/beheer/stands?opgeslagen=stand", name="Zorggroep A", slug="zorg-a", kind="employer", sector="zorg", offers="bbl"),
    http("GET /beheer/stands/{booth}/verwijderen", "LI F F F F 200"),
    http("POST /beheer/stands/{booth}/verwijderen", "S F F F F 409:booth.busy"),
    http("POST /beheer/stands/{booth}/verplaatsen", "S F F F F 303:/beheer/stands?opgeslagen=volgorde", direction="down"),
    http("GET /beheer/medewerkers",               "LI F F F F 200"),
    http("POST /beheer/medewerkers",              "S F F F F 200", name="Nieuwe Adviseur", email="nieuw-adviseur@test.example", role="advisor", booth_id="{booth}"),
    http("POST /beheer/medewerkers/999999/stand", "S F F F F 404:staff.not_found", booth_id="{booth}"),
    http("POST /beheer/medewerkers/999999/actief", "S F F F F 404:staff.not_found", active="0"),
    http("POST /beheer/medewerkers/999999/uitnodiging", "S F F F F 404:staff.not_found"),
    http("GET /beheer/rooster",                   "LI F F F F 200"),
    http("POST /beheer/rooster/{booth}",          "S F F F F 400:day.not_found", day="1999-01-01", starts="10:00", ends="11:00"),
    http("POST /beheer/rooster/blok/999999/verwijderen", "S F F F F 404:slot.not_found"),
    # an invitation link is for whoever holds it: an unknown token is refused alike for all
    http("GET /uitnodiging/geen-geldige-link",   "404:invitation.not_found " * 6),
    http("POST /uitnodiging/geen-geldige-link",  "404:invitation.not_found " * 6, new="een-wachtwoord-1", repeat="een-wachtwoord-1"),
    # reports
    http("GET /rapport",                          "LI F F F F 200"),
    http("GET /rapport/aanvragen.csv",            "LI F F F F 200"),
    http("GET /rapport/gesprekken.csv",           "LI F F F F 200"),
    http("GET /rapport/vervolgafspraken.csv",     "LI F F F F 200"),
    http("GET /rapport/feedback.csv",             "LI F F F F 200"),
    # follow-up appointments (unknown ones: refused alike; a time in the past: nothing booked)
    http("GET /adviseur/vervolgafspraak",         "LI F F 200 200 200"),
    http("POST /adviseur/vervolgafspraak",        "S F F 400:follow_up.in_past 404:conversation.not_found 400:follow_up.in_past", CONVERSATION, starts="2020-01-01T10:00", minutes="30", mode="video", **CONV),
    http("GET /adviseur/vervolgafspraken/999999", "LI F F 404:follow_up.not_found 404:follow_up.not_found 404:follow_up.not_found"),
    http("POST /adviseur/vervolgafspraken/999999/verzetten", "S F F 404:follow_up.not_found 404:follow_up.not_found 404:follow_up.not_found", starts="2020-01-01T10:00", minutes="30"),
    http("POST /adviseur/vervolgafspraken/999999/annuleren", "S F F 404:follow_up.not_found 404:follow_up.not_found 404:follow_up.not_found", confirm="yes"),
    http("GET /adviseur/beschikbaarheid",         "LI F F 200 200 F"),
    http("POST /adviseur/beschikbaarheid",        "S F F 400:follow_up.in_past 400:follow_up.in_past F", starts="2020-01-01T10:00", ends="2020-01-01T11:00"),
    http("POST /adviseur/beschikbaarheid/999999/verwijderen", "S F F 404:availability.not_found 404:availability.not_found F"),
    http("GET /mijn-afspraken",                   "SI 200 200 F F F"),
    http("GET /mijn-afspraken/999999.ics",        "SI 404:follow_up.not_found 404:follow_up.not_found F F F"),
    http("GET /mijn-afspraken/999999/annuleren",  "SI 404:follow_up.not_found 404:follow_up.not_found F F F"),
    http("POST /mijn-afspraken/999999/annuleren", "S 404:follow_up.not_found 404:follow_up.not_found F F F", confirm="yes"),
    http("POST /mijn-afspraken/999999/verzetten", "S 404:follow_up.not_found 404:follow_up.not_found F F F", message="Later graag"),
    # an advisor hands a candidate to another booth
    http("POST /adviseur/doorverwijzen",          "S F F 409:transfer.same_booth 404:conversation.not_found F", CONVERSATION, booth_id="{booth}", note="N", **CONV),
    # the candidate rates a conversation that ended
    http("POST /mijn-verzoek/beoordelen",         "S 303:/mijn-verzoek 404:conversation.not_found F F F", "ended", rating="4", comment="Fijn", **CONV),
    # extending a conversation (before the warning: too early), the moderator's permission
    http("POST /adviseur/verlengen",              "S F F 409:conversation.extension_too_early 404:conversation.not_found F", CONVERSATION, **CONV),
    http("POST /moderator/ingrijpen/verlengen-toestaan", "S F F F F 303:/moderator/ingrijpen?gedaan=", CONVERSATION, **CONV),
    http("POST /beheer/evenement/verlengen",      "S F F F F 303:/beheer/evenement?opgeslagen=", extension_minutes="5", extension_max_minutes="10"),
    # the moderator's outbox (an unknown message: nothing to read or download)
    http("GET /moderator/uitgaande-post",         "LI F F F F 200"),
    http("GET /moderator/uitgaande-post/999999",  "LI F F F F 404:mail.not_found"),
    http("GET /moderator/uitgaande-post/999999/bijlage", "LI F F F F 404:mail.not_found"),
    # proof of attendance (the other candidate had no conversation: nothing to download yet)
    http("GET /mijn-bewijs",                      "SI 200 200 F F F", "ended"),
    http("GET /mijn-bewijs.pdf",                  "SI 200 303:/mijn-bewijs F F F", "ended"),
    http("GET /moderator/bewijs-controleren",     "LI F F F F 200"),
    http("POST /moderator/bewijs-controleren",    "S F F F F 200", "ended", code="ABCD-EFGH-JKLM"),
    # readiness: ready / more time for a request already accepted (whether a waiting one is
    # asked yet depends on who is free); joining the call through the server; the limits
    http("POST /mijn-verzoek/klaar",              "S 409:request.not_waiting 404:request.not_found F F F", CONVERSATION, **REQ),
    http("POST /mijn-verzoek/meer-tijd",          "S 409:request.not_waiting 404:request.not_found F F F", CONVERSATION, **REQ),
    http("POST /mijn-verzoek/deelnemen",          "S 303:https://meet.example.test/ 404:conversation.not_found F F F", CONVERSATION, **CONV),
    http("POST /beheer/evenement/klaar",          "S F F F F 303:/beheer/evenement?opgeslagen=", ready_seconds="60", ready_step_back="3", join_seconds="120"),
    # the call page of a conversation: its two participants only; to anyone else a real
    # token and a made-up one look the same
    http("GET /videogesprek/{call}",              "SI 200 404:call.not_found 200 404:call.not_found 404:call.not_found", "call"),
    http("GET /videogesprek/verzonnen-token",     "SI 404:call.not_found 404:call.not_found 404:call.not_found 404:call.not_found 404:call.not_found", "call"),
    http("POST /videogesprek/{call}/bel-mij",     "404:call.not_found 303:/videogesprek/ 404:call.not_found 404:call.not_found 404:call.not_found 404:call.not_found", "call", phone="06 1234 5678", agree="ja"),
]
# fmt: on


@dataclass(frozen=True)
class ActionRule:
    data: dict[str, Any]
    expect: tuple[str, ...]
    scene: str = "request"


def act(expect: str, data: dict[str, Any] | None = None, scene: str = "request") -> ActionRule:
    tokens = expect.split()
    assert len(tokens) == len(PRINCIPALS), expect
    return ActionRule(data or {}, tuple(WS_TOKENS.get(t, t) for t in tokens), scene)


NOT_REQ = "request.not_found"
NOT_CONV = "conversation.not_found"
CREATE = {"booth_id": "{booth}", "client_key": "{key}", "question": "Hoi"}

# fmt: off
# principals:                    anonymous candidate other_candidate advisor other_advisor moderator
ACTION_RULES: dict[str, ActionRule] = {
    "session.sync":       act("ok ok ok ok ok ok"),
    "clock.sync":         act("ok ok ok ok ok ok"),
    "request.create":     act("S ok ok F F F", CREATE, "fresh"),
    "request.cancel":     act(f"S ok {NOT_REQ} F F F", REQ),
    "advisor.status":     act("S F F ok ok F", {"status": "paused"}),
    "request.accept":     act(f"S F F ok {NOT_REQ} F", REQ),
    "request.decline":    act(f"S F F ok {NOT_REQ} F", {**REQ, "message": "Sorry"}),
    "conversation.end":   act(f"S F F ok {NOT_CONV} F", CONV, CONVERSATION),
    "conversation.notes": act(f"S F F ok {NOT_CONV} ok", CONV, CONVERSATION),
    "conversation.note":  act(f"S F F ok {NOT_CONV} F", {**CONV, "notes": "N"}, CONVERSATION),
    # the moderator's dashboard
    # the moderator steps in (each close is followed by its open, so the hall stays open)
    "event.close":        act("S F F F F ok"),
    "event.open":         act("S F F F F ok", {}, "fresh"),
    "booth.close":        act("S F F F F ok", {"booth_id": "{booth}"}),
    "booth.open":         act("S F F F F ok", {"booth_id": "{booth}"}, "fresh"),
    "request.move":       act("S F F F F moderation.no_change", {**REQ, "booth_id": "{booth}"}),
    "conversation.stop":  act("S F F F F ok", CONV, CONVERSATION),
    "candidate.block":    act("S F F F F candidate.not_found", {"candidate_id": 999999}),
    "candidate.unblock":  act("S F F F F candidate.not_found", {"candidate_id": 999999}),
    # announcements
    "announcement.create": act("S F F F F ok", {"text": "Hallo allemaal", "audience": "all"}),
    "announcement.end":   act("S F F F F announcement.not_found", {"announcement_id": 999}),
    # administration
    # follow-up appointments (unknown ones: refused alike; a time in the past: nothing booked)
    "follow_up.book":     act("S F F input.invalid input.invalid input.invalid", {**CONV, "starts": "2020-01-01T10:00", "minutes": 30, "mode": "video"}, CONVERSATION),
    "follow_up.reschedule": act("S F F input.invalid input.invalid input.invalid", {"follow_up_id": 999999, "starts": "2020-01-01T10:00"}),
    "follow_up.cancel":   act("S F F follow_up.not_found follow_up.not_found follow_up.not_found", {"follow_up_id": 999999}),
    "follow_up.cancel_mine": act("S follow_up.not_found follow_up.not_found F F F", {"follow_up_id": 999999}),
    "follow_up.ask_reschedule": act("S follow_up.not_found follow_up.not_found F F F", {"follow_up_id": 999999, "message": "Later graag"}),
    "availability.add":   act("S F F input.invalid input.invalid F", {"starts": "2020-01-01T10:00", "ends": "2020-01-01T11:00"}),
    "availability.remove": act("S F F availability.not_found availability.not_found F", {"period_id": 999999}),
    # an advisor hands a candidate to another booth
    "conversation.transfer": act(f"S F F transfer.same_booth {NOT_CONV} F", {**CONV, "booth_id": "{booth}"}, CONVERSATION),
    # the candidate rates a conversation that ended
    "conversation.rate":  act(f"S ok {NOT_CONV} F F F", {**CONV, "rating": 4, "comment": "Fijn"}, "ended"),
    # extending a conversation (before the warning: too early), the moderator's permission
    "conversation.extend": act(f"S F F conversation.extension_too_early {NOT_CONV} F", CONV, CONVERSATION),
    "conversation.allow_extension": act("S F F F F ok", CONV, CONVERSATION),
    # readiness (of a request already accepted) and joining the call
    "request.ready":      act(f"S request.not_waiting {NOT_REQ} F F F", REQ, CONVERSATION),
    "request.more_time":  act(f"S request.not_waiting {NOT_REQ} F F F", REQ, CONVERSATION),
    "conversation.join":  act(f"S ok {NOT_CONV} F F F", CONV, CONVERSATION),
    # the call page: signalling and its ways out, between the two participants only
    "call.signal":        act("S ok call.not_found ok call.not_found F", {"token": "{call}", "kind": "hello", "peer": "p1"}, "call"),
    "call.fallback":      act("S ok call.not_found ok call.not_found F", {"token": "{call}", "choice": "external"}, "call"),
    "call.phone_me":      act("S ok call.not_found F F F", {"token": "{call}", "phone": "06 1234 5678", "agree": True}, "call"),
}
# fmt: on

# Bookkeeping that moves by itself (timers' leases, the retention job's log, the revision
# counter every write moves): not what a refusal could change.
NOT_STATE = {
    "leases",
    "retention_runs",
    "revision",
    "schema_migrations",
    "sessions",  # a session's last_seen moves as it is used
    "login_failures",  # a wrong password counts, whatever the page answers
    "attendance_proofs",  # a candidate's proof is issued (once per content) when they open it
}
# Columns that follow whether a candidate is connected, not what anyone did.
NOT_STATE_COLUMNS = {("requests", "away_since"), ("candidates", "online_until")}
# The readiness prompt is raised (and lapses) by the server's timers, not by anyone's step.
NOT_STATE_COLUMNS |= {("requests", c) for c in ("ready_asked_at", "ready_until", "ready_misses")}
NOT_STATE_COLUMNS |= {("requests", "line_at")}
# Opening the call page is the candidate's joining the call (app.web.pages.call).
NOT_STATE_COLUMNS |= {("conversations", "joined_at")}


# -- the routes and actions of the app ------------------------------------------------------


def app_routes() -> list[tuple[str, BaseRoute]]:
    """(method, route) for every route of the assembled app; WS for WebSocket routes."""
    found: list[tuple[str, BaseRoute]] = []
    for route in create_app(Settings()).routes:
        if isinstance(route, WebSocketRoute):
            found.append(("WS", route))
        elif isinstance(route, Mount):
            found.append(("GET", route))
        elif isinstance(route, Route):
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                found.append((method, route))
        else:  # pragma: no cover - a new kind of route needs a new way to probe it
            raise AssertionError(f"unknown kind of route {route!r}: teach test_authz to probe it")
    return found


def route_label(method: str, route: BaseRoute) -> str:
    return f"{method} {getattr(route, 'path', route)}"


def sample_path(path: str) -> str:
    return re.sub(r"\{[a-z_]+\}", "1", path)


def route_matches(method: str, route: BaseRoute, probe: Probe) -> bool:
    regex = getattr(route, "path_regex", None)
    if method != probe.method or regex is None:
        return False
    return bool(regex.match(sample_path(probe.path)))


def test_every_route_and_action_has_a_rule() -> None:
    routes = app_routes()
    missing = [
        route_label(method, route)
        for method, route in routes
        if not any(route_matches(method, route, probe) for probe in HTTP_RULES)
    ]
    assert not missing, (
        f"routes without an authorisation rule: {missing}; add a line for each to HTTP_RULES "
        "in tests/test_authz.py (what each principal gets)"
    )
    stale = [
        probe.target
        for probe in HTTP_RULES
        if not any(route_matches(method, route, probe) for method, route in routes)
    ]
    assert not stale, f"rules for routes the app does not have: {stale}"
    unruled = sorted(set(actions.REGISTRY) - set(ACTION_RULES))
    assert not unruled, (
        f"actions without an authorisation rule: {unruled}; add a line for each to "
        "ACTION_RULES in tests/test_authz.py (payload and what each principal gets)"
    )
    assert not set(ACTION_RULES) - set(actions.REGISTRY), "rules for actions that do not exist"
    # The table agrees with the roles the registry declares: a role the registry refuses is
    # refused here, and a role it allows is never told it has the wrong role.
    role_of = {
        "anonymous": "anonymous",
        "candidate": "candidate",
        "other_candidate": "candidate",
        "advisor": "advisor",
        "other_advisor": "advisor",
        "moderator": "moderator",
    }
    for name, rule in ACTION_RULES.items():
        for principal, outcome in zip(PRINCIPALS, rule.expect, strict=True):
            allowed = role_of[principal] in actions.REGISTRY[name].roles
            refused_for_role = outcome in WS_TOKENS.values()
            assert allowed != refused_for_role, (name, principal, outcome)


# -- a real hall, its principals and scenes -------------------------------------------------


def fingerprint(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that holds state, read from the file the server writes."""
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        rows = {}
        for table in tables:
            if table in NOT_STATE:
                continue
            columns = [
                f'"{info[1]}"'
                for info in connection.execute(f'PRAGMA table_info("{table}")')
                if (table, info[1]) not in NOT_STATE_COLUMNS
            ]
            sql = f'SELECT {", ".join(columns)} FROM "{table}" ORDER BY rowid'
            rows[table] = connection.execute(sql).fetchall()
        return rows
    finally:
        connection.close()


def db_write(db_path: Path, sql: str) -> None:
    connection = sqlite3.connect(db_path, timeout=10)
    try:
        with connection:
            connection.execute(sql)
    finally:
        connection.close()


_serial = itertools.count(1)


@dataclass
class Scene:
    """One candidate's things at booth A, and the people who act on them."""

    people: dict[str, Browserless]
    values: dict[str, str]

    def fill(self, value: Any) -> Any:
        if isinstance(value, str) and "{" in value:
            filled = value.format_map(self.values)
            return int(filled) if filled.isdigit() else filled
        return value


class Hall:
    """A running server with the staff signed in once; candidates are new in each scene."""

    def __init__(self, server: LiveServer, world: World, db_path: Path) -> None:
        self.server = server
        self.world = world
        self.db_path = db_path
        self.staff: dict[str, Browserless] = {}
        self.clients: list[Browserless] = []

    def client(self) -> Browserless:
        visitor = Browserless(self.server)
        self.clients.append(visitor)
        return visitor

    STAFF: ClassVar[dict[str, str]] = {
        "advisor": "a1@test.example",
        "other_advisor": "b1@test.example",
        "moderator": "mod@test.example",
    }

    async def start(self) -> None:
        for principal in ("anonymous", *self.STAFF):
            await self.renew(principal)
        self.colleague = self.client()  # the advisor's colleague at booth A, present
        await self.colleague.log_in("a2@test.example")

    async def renew(self, principal: str) -> None:
        """A new browser for this principal (staff log in again); candidates are new in
        each scene anyway."""
        if principal in ("candidate", "other_candidate"):
            return
        self.staff[principal] = visitor = self.client()
        if principal in self.STAFF:
            await visitor.log_in(self.STAFF[principal])

    async def close(self) -> None:
        for visitor in self.clients:
            await visitor.aclose()

    async def post(self, who: Browserless, path: str, form: dict[str, Any]) -> httpx.Response:
        token = await who.csrf("/inloggen")
        return await who.http.post(path, data={"csrf": token, **form})

    async def scene(self, kind: str) -> Scene:
        """``fresh``: the candidate has nothing yet; ``request``: a waiting request at booth A
        that the advisor is free to take; ``conversation``: it was accepted by the advisor."""
        advisor = self.staff["advisor"]
        running = db_value(
            self.db_path,
            "SELECT id FROM conversations WHERE advisor_id = ? AND ended_at IS NULL",
            (self.world.advisor_a1,),
        )
        if running is not None:
            done = await self.post(advisor, "/adviseur/beeindigen", {"conversation_id": running})
            assert done.status_code == 303, done.text
        n = next(_serial)
        candidate, other = self.client(), self.client()
        await candidate.sign_in_candidate(f"Kandidaat {n}", f"kandidaat{n}@example.nl")
        await other.sign_in_candidate(f"Ander {n}", f"ander{n}@example.nl")
        values = {"booth": str(self.world.booth_a), "key": f"key-{n}"}
        if kind in ("request", "addressed", "conversation", "ended", "call"):
            form = {"question": f"Vraag {n}", "client_key": f"scene-{n}"}
            if kind == "addressed":
                form["advisor_id"] = str(self.world.advisor_a2)
            made = await self.post(candidate, f"/inzoomen/{self.world.booth_a}", form)
            assert made.status_code == 303, made.text
            values["request"] = str(
                db_value(
                    self.db_path,
                    "SELECT r.id FROM requests r JOIN candidates c ON c.id = r.candidate_id "
                    "WHERE c.email = ? AND r.status = 'waiting'",
                    (f"kandidaat{n}@example.nl",),
                )
            )
        if kind in ("conversation", "ended", "call"):
            # ``call``: accepted while the event uses built-in video, so it has a call page.
            if kind == "call":
                db_write(self.db_path, "UPDATE event SET video_provider = 'builtin'")
            try:
                taken = await self.post(
                    advisor, "/adviseur/accepteren", {"request_id": values["request"]}
                )
            finally:
                if kind == "call":
                    db_write(self.db_path, "UPDATE event SET video_provider = 'jitsi'")
            assert taken.status_code == 303, taken.text
            values["conversation"] = str(
                db_value(
                    self.db_path,
                    "SELECT id FROM conversations WHERE request_id = ?",
                    (int(values["request"]),),
                )
            )
        if kind == "call":
            values["call"] = str(
                db_value(
                    self.db_path,
                    "SELECT call_token FROM conversations WHERE id = ?",
                    (int(values["conversation"]),),
                )
            )
        if kind == "ended":
            # ``ended``: the advisor ended that conversation (so the candidate may rate it).
            done = await self.post(
                advisor, "/adviseur/beeindigen", {"conversation_id": values["conversation"]}
            )
            assert done.status_code == 303, done.text
        people = {**self.staff, "candidate": candidate, "other_candidate": other}
        return Scene(people, values)


@pytest.fixture
async def hall(server: LiveServer, world_db: tuple[Path, World]) -> Any:
    db_path, world = world_db
    running = Hall(server, world, db_path)
    await running.start()
    yield running
    await running.close()


def error_message(code: str) -> str:
    return MESSAGES[code]


def check_http(probe: Probe, principal: str, expected: str, response: httpx.Response) -> str | None:
    """What is wrong with this answer, or None."""
    status, _, rest = expected.partition(" ")
    got = f"{probe.target} as {principal}: expected {expected!r}, got {response.status_code}"
    if str(response.status_code) != status:
        return f"{got} ({response.headers.get('location', '')})"
    if status.startswith("3"):
        location = response.headers.get("location", "")
        prefix = rest.endswith("=") or (rest.endswith("/") and rest != "/")
        if not (location.startswith(rest) if prefix else location == rest):
            return f"{got} to {location!r}"
    elif rest and error_message(rest) not in html.unescape(response.text):
        return f"{got} without the message of {rest}"
    return None


def is_refusal(expected: str) -> bool:
    status, _, rest = expected.partition(" ")
    return int(status) >= 400 or rest.startswith(("/aanmelden", "/inloggen"))


async def probe_socket(hall: Hall, who: Browserless, expected_role: str) -> list[str]:
    """/ws: every principal connects and hears only what its role may; a foreign Origin
    is refused before the socket opens."""
    problems = []
    peer = await who.socket()
    try:
        if peer.welcome["role"] != expected_role:
            problems.append(f"/ws: welcome role {peer.welcome['role']!r}, not {expected_role!r}")
        keys = {
            "anonymous": {"hall", "announcements"},
            "candidate": {"hall", "announcements", "me"},
            "advisor": {"hall", "announcements", "console"},
            "moderator": {"hall", "announcements", "overview"},
        }[expected_role]
        if set(peer.state) != keys:
            problems.append(f"/ws as {expected_role}: state has {sorted(peer.state)}")
    finally:
        await peer.close()
    try:
        await who.socket(origin="http://evil.example")
        problems.append("/ws accepted a foreign Origin")
    except InvalidStatus as refused:
        if refused.response.status_code != 403:
            problems.append(f"/ws foreign Origin: {refused.response.status_code}")
    return problems


async def test_http_matrix(hall: Hall) -> None:
    failures: list[str] = []
    tried = 0
    shared: dict[str, Scene] = {}
    for probe in HTTP_RULES:
        for principal, expected in zip(PRINCIPALS, probe.expect, strict=True):
            tried += 1
            if probe.method in ("GET", "WS"):
                # Reads share one scene per kind: they must change nothing.
                if probe.scene not in shared:
                    shared[probe.scene] = await hall.scene(probe.scene)
                scene = shared[probe.scene]
            else:
                scene = await hall.scene(probe.scene)
            who = scene.people[principal]
            cookies = httpx.Cookies(who.http.cookies)
            before = fingerprint(hall.db_path)
            if probe.method == "WS":
                failures += await probe_socket(hall, who, expected)
                continue
            path = probe.path.format_map(scene.values)
            if probe.method == "GET":
                response = await who.http.get(path)
            else:
                form = {k: scene.fill(v) for k, v in probe.form.items()}
                response = await hall.post(who, path, form)
            who.http.cookies = cookies  # signing in or out, or a language, ends here
            problem = check_http(probe, principal, expected, response)
            if problem:
                failures.append(problem)
            if probe.renews:
                await hall.renew(principal)
            checked = probe.method == "GET" or is_refusal(expected)
            if checked and fingerprint(hall.db_path) != before:
                failures.append(f"{probe.target} as {principal} changed the database")
    routes = len(app_routes())
    print(
        f"\nHTTP matrix: {routes} routes (method x path, static and /ws included) in "
        f"{len(HTTP_RULES)} probes x {len(PRINCIPALS)} principals = {tried}"
    )
    print(f"HTTP matrix failures: {len(failures)}")
    assert not failures, "\n".join(failures)


async def test_forms_without_csrf_change_nothing(hall: Hall) -> None:
    """Every form refuses a post without its token, whoever sends it, and changes nothing."""
    failures = []
    posts = [p for p in HTTP_RULES if p.method == "POST"]
    for probe in posts:
        scene = await hall.scene(probe.scene)
        for principal in PRINCIPALS:
            who = scene.people[principal]
            before = fingerprint(hall.db_path)
            form = {k: scene.fill(v) for k, v in probe.form.items()}
            response = await who.http.post(probe.path.format_map(scene.values), data=form)
            if response.status_code != 403 or error_message("auth.csrf") not in html.unescape(
                response.text
            ):
                code = response.status_code
                failures.append(f"{probe.target} as {principal} without csrf: {code}")
            if fingerprint(hall.db_path) != before:
                failures.append(f"{probe.target} as {principal} without csrf changed the database")
    print(f"\nforms without csrf: {len(posts)} x {len(PRINCIPALS)}, failures: {len(failures)}")
    assert not failures, "\n".join(failures)


async def test_action_matrix(hall: Hall) -> None:
    failures: list[str] = []
    tried = junk_tried = 0
    for name, rule in ACTION_RULES.items():
        for principal, expected in zip(PRINCIPALS, rule.expect, strict=True):
            tried += 1
            scene = await hall.scene(rule.scene)
            peer = await scene.people[principal].socket()
            try:
                before = fingerprint(hall.db_path)
                data = {k: scene.fill(v) for k, v in rule.data.items()}
                reply = await peer.send(name, data)
                got = WS_OK if reply["ok"] else reply["error"]["code"]
                if got != expected:
                    failures.append(f"{name} as {principal}: expected {expected}, got {got}")
                if expected != WS_OK and fingerprint(hall.db_path) != before:
                    failures.append(f"{name} as {principal} was refused but changed the database")
                if expected in WS_TOKENS.values():
                    # The role is checked before the payload: any payload, the same answer.
                    junk_tried += 1
                    for junk in ({}, {"unknown": 1}, {k: "x" * 6000 for k in rule.data}):
                        reply = await peer.send(name, junk)
                        got = WS_OK if reply["ok"] else reply["error"]["code"]
                        if got != expected:
                            failures.append(f"{name} as {principal} with {list(junk)}: {got}")
            finally:
                await peer.close()
    print(f"\naction matrix: {len(ACTION_RULES)} actions x {len(PRINCIPALS)} principals = {tried}")
    print(f"refused for their role, again with 3 malformed payloads each: {junk_tried}")
    print(f"action matrix failures: {len(failures)}")
    assert not failures, "\n".join(failures)


# -- what each principal sees ---------------------------------------------------------------

# Whose personal data each principal may see: their own, their booth's candidates, everyone.
MAY_SEE = {
    "anonymous": set(),
    "candidate": {"c1"},
    "other_candidate": set(),
    "advisor": {"c1", "c2"},
    "other_advisor": {"c3", "c4"},
    "moderator": {"c1", "c2", "c3", "c4"},
    "talking_candidate": {"c2"},
}
# Data with an audience of its own: advisor notes are never shown to the candidate.
ONLY = {("c2", "notes"): {"advisor", "moderator"}}


async def test_each_principal_sees_only_what_it_may(hall: Hall) -> None:
    """Four candidates with personal data (c1 waiting at booth A, c2 talking to the other
    advisor of booth A, with notes, c3 waiting at booth B, c4 declined at booth B with a
    message): their name, e-mail, phone, question, video link, notes and decline message
    never reach a principal that may not see them: not in the snapshot, not in any pushed
    message, not on any page it can open. The candidate in the conversation (c2) watches
    too, and never sees the notes about them."""
    world = hall.world
    secrets = {
        f"c{i}": {
            "name": f"Naamgeheim{i}x",
            "email": f"mailgeheim{i}x@example.nl",
            "phone": f"06 5550 100{i}",
            "question": f"Vraaggeheim{i}x",
        }
        for i in (1, 2, 3, 4)
    }
    people: dict[str, Browserless] = {
        "anonymous": hall.staff["anonymous"],
        "advisor": hall.staff["advisor"],
        "other_advisor": hall.staff["other_advisor"],
        "moderator": hall.staff["moderator"],
    }
    subjects: dict[str, Browserless] = {}
    for key, data in secrets.items():
        subjects[key] = visitor = hall.client()
        token = await visitor.csrf("/aanmelden")
        signed = await visitor.http.post(
            "/aanmelden",
            data={"csrf": token, **{k: data[k] for k in ("name", "email", "phone")}}
            | {"consent": "yes", "next": "/"},
        )
        assert signed.status_code == 303, signed.text
    people["candidate"] = subjects["c1"]
    people["talking_candidate"] = subjects["c2"]
    people["other_candidate"] = other = hall.client()
    await other.sign_in_candidate("Iemand Anders", "anders@example.nl")

    peers = {key: await who.socket() for key, who in people.items()}
    frames: dict[str, list[str]] = {key: [] for key in people}
    try:
        a2 = hall.client()  # present, so c2 can ask for them
        await a2.log_in("a2@test.example")
        for key, booth, advisor in (
            ("c1", world.booth_a, ""),
            ("c2", world.booth_a, str(world.advisor_a2)),
            ("c3", world.booth_b, ""),
            ("c4", world.booth_b, ""),
        ):
            made = await hall.post(
                subjects[key],
                f"/inzoomen/{booth}",
                {"question": secrets[key]["question"], "client_key": key, "advisor_id": advisor},
            )
            assert made.status_code == 303, made.text
        c2_request = db_value(
            hall.db_path,
            "SELECT r.id FROM requests r JOIN candidates c ON c.id = r.candidate_id "
            "WHERE c.email = ? AND r.status = 'waiting'",
            (secrets["c2"]["email"],),
        )
        taken = await hall.post(a2, "/adviseur/accepteren", {"request_id": c2_request})
        assert taken.status_code == 303, taken.text
        conversation, video = (
            sqlite3.connect(f"file:{hall.db_path}?mode=ro", uri=True)
            .execute("SELECT id, video_url FROM conversations WHERE request_id = ?", (c2_request,))
            .fetchone()
        )
        secrets["c2"]["video"] = video
        secrets["c2"]["notes"] = "Notitiegeheim2x"
        noted = await hall.post(
            a2, f"/gesprekken/{conversation}/notities", {"notes": secrets["c2"]["notes"]}
        )
        assert noted.status_code == 303, noted.text
        secrets["c4"]["decline"] = "Afwijsgeheim4x"
        c4_request = db_value(
            hall.db_path,
            "SELECT r.id FROM requests r JOIN candidates c ON c.id = r.candidate_id "
            "WHERE c.email = ? AND r.status = 'waiting'",
            (secrets["c4"]["email"],),
        )
        declined = await hall.post(
            hall.staff["other_advisor"],
            "/adviseur/afwijzen",
            {"request_id": c4_request, "message": secrets["c4"]["decline"]},
        )
        assert declined.status_code == 303, declined.text
        # Every audience has heard the changes (hall pushes are coalesced) when the moderator
        # has; then each asks for a full state as well.
        await peers["moderator"].next_event(
            "overview.state", timeout=10, where=lambda d: d["totals"]["waiting"] == 2
        )
        await peers["advisor"].next_event(
            "console.state", timeout=10, where=lambda d: len(d["queue"]) == 1
        )
        for key, peer in peers.items():
            synced = await peer.send("session.sync")
            frames[key] += [
                json.dumps(peer.welcome),
                json.dumps(peer.state),
                json.dumps(synced),
            ]
        await asyncio.sleep(1)  # pushes still on their way are looked at too
        for key, peer in peers.items():
            frames[key] += [json.dumps(frame) for frame in peer.events]
    finally:
        for peer in peers.values():
            await peer.close()

    pages: dict[str, list[str]] = {key: [] for key in people}
    values = {"booth": str(world.booth_a), "conversation": str(conversation), "call": "verzonnen"}
    gets = [p for p in HTTP_RULES if p.method == "GET" and not p.path.startswith("/static")]
    for key, who in people.items():
        for probe in gets:
            response = await who.http.get(probe.path.format_map(values))
            pages[key].append(f"{probe.path}\n{html.unescape(response.text)}")

    leaks = []
    checked = 0
    for key in people:
        for subject, data in secrets.items():
            for what, secret in data.items():
                audience = ONLY.get((subject, what))
                if key in audience if audience is not None else subject in MAY_SEE[key]:
                    continue
                for text in frames[key] + pages[key]:
                    checked += 1
                    if secret in text:
                        where = text.split("\n", 1)[0][:80]
                        leaks.append(f"{key} sees {subject}'s {what} in {where}")
    print(
        f"\nvisibility: {len(people)} principals x {len(frames['anonymous'])}+ frames and "
        f"{len(gets)} pages, {checked} checks, leaks: {len(leaks)}"
    )
    assert not leaks, "\n".join(sorted(set(leaks)))
    # The test looks where the data does flow: each audience that may see it, sees it.
    assert any(secrets["c1"]["name"] in t for t in frames["advisor"])
    assert any(secrets["c3"]["question"] in t for t in frames["other_advisor"])
    assert any(secrets["c2"]["name"] in t for t in frames["moderator"])
    assert any(secrets["c1"]["email"] in t for t in pages["candidate"])
    assert any(secrets["c2"]["video"] in t for t in frames["talking_candidate"])
    assert any(secrets["c2"]["notes"] in t for t in pages["advisor"])
    assert any(secrets["c4"]["name"] in t for t in frames["other_advisor"])


async def test_redirects_after_sign_in_stay_on_this_site(hall: Hall) -> None:
    """``next`` is followed only to a local path: never to another site, however written."""
    tricks = [
        "//evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/%2F%2Fevil.example",
    ]
    anonymous = hall.staff["anonymous"]
    problems = []
    for trick in tricks:
        responses = [await anonymous.http.get("/taal/nl", params={"next": trick})]
        visitor = hall.client()
        token = await visitor.csrf("/aanmelden")
        responses.append(
            await visitor.http.post(
                "/aanmelden",
                data={"csrf": token, "name": "R", "email": "r@example.nl", "consent": "yes"}
                | {"next": trick},
            )
        )
        for response in responses:
            location = response.headers.get("location", "")
            target = httpx.URL(hall.server.url).join(location.replace("\\", "/"))
            if response.status_code != 303 or target.host != "127.0.0.1":
                problems.append(f"next={trick!r}: {response.status_code} to {location!r}")
    assert not problems, "\n".join(problems)


def test_next_is_a_plain_local_path_or_the_hall() -> None:
    from app.web.pages.common import safe_next

    for trick in ("//evil.example/", "/\\evil.example", "/\t/evil.example", "/\n/x", "/ /x"):
        assert safe_next(trick) == "/", trick
    for local in ("/", "/mijn-verzoek", "/inzoomen/3?adviseur=2", "/%2F%2Fevil.example"):
        assert safe_next(local) == local
