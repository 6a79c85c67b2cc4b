"""The one domain error type. Its code is dotted and stable; its text is translated at the edge."""

from __future__ import annotations

from typing import Any

from app.core.i18n import N_, gettext

MESSAGES: dict[str, str] = {
    "input.invalid": N_("Deze invoer klopt niet."),
    "input.required": N_("Vul dit veld in."),
    "input.too_long": N_("Dit is te lang: maximaal %(max)s tekens."),
    "input.wrong_type": N_("Dit veld heeft een verkeerde waarde."),
    "input.bad_choice": N_("Kies een van de mogelijkheden."),
    "input.email": N_("Vul een geldig e-mailadres in, zoals naam@voorbeeld.nl."),
    "input.phone": N_("Vul een geldig telefoonnummer in, of laat het leeg."),
    "input.consent": N_("Geef toestemming om je gegevens te gebruiken voor dit gesprek."),
    "protocol.bad_json": N_("Dit bericht kon niet gelezen worden."),
    "protocol.bad_envelope": N_("Dit bericht heeft niet de goede vorm."),
    "protocol.unknown_action": N_("Deze actie bestaat niet."),
    "protocol.too_large": N_("Dit bericht is te groot."),
    "auth.forbidden": N_("Dat mag je niet doen met deze rol."),
    "auth.sign_in_required": N_("Meld je eerst aan."),
    "auth.bad_login": N_("Dit e-mailadres en wachtwoord horen niet bij elkaar."),
    "auth.csrf": N_("Je formulier is verlopen. Probeer het nog een keer."),
    "auth.login_wait_seconds": N_(
        "Te veel mislukte pogingen om in te loggen. Wacht %(seconds)s seconden en probeer het "
        "dan opnieuw."
    ),
    "auth.login_wait_minutes": N_(
        "Te veel mislukte pogingen om in te loggen. Probeer het over %(minutes)s minuten opnieuw."
    ),
    "auth.wrong_password": N_("Je huidige wachtwoord klopt niet."),
    "input.password_short": N_("Kies een wachtwoord van minstens %(min)s tekens."),
    "input.password_mismatch": N_("De twee nieuwe wachtwoorden zijn niet gelijk."),
    # administration
    "input.number_range": N_("Vul een heel getal in van %(min)s tot en met %(max)s."),
    "input.clock": N_("Vul een tijd in als UU:MM, bijvoorbeeld 09:30."),
    "input.date": N_("Vul een datum in als JJJJ-MM-DD, bijvoorbeeld 2026-03-12."),
    "input.time_order": N_("De eindtijd moet later zijn dan de begintijd."),
    "input.timezone": N_("Deze tijdzone kennen we niet. Gebruik bijvoorbeeld Europe/Amsterdam."),
    "input.https_url": N_("Vul een volledig webadres in dat begint met https://."),
    "input.slug": N_("Gebruik alleen kleine letters, cijfers en streepjes, zoals zorggroep-noord."),
    "input.warning_too_long": N_("De waarschuwing moet korter zijn dan het gesprek."),
    "booth.slug_taken": N_("Deze korte naam is al in gebruik bij een andere stand."),
    "booth.busy": N_(
        "Deze stand heeft nog wachtende kandidaten of een lopend gesprek. Sluit de stand eerst "
        "en verwijder hem als de wachtrij leeg is."
    ),
    "csv.unreadable": N_(
        "Dit bestand kunnen we niet lezen. Kies een CSV-bestand (UTF-8) met een kopregel."
    ),
    "csv.row": N_("Regel %(row)s, kolom ‘%(column)s’: %(problem)s"),
    "csv.missing_column": N_("De kopregel mist de kolom ‘%(column)s’."),
    "csv.unknown_column": N_("De kolom ‘%(column)s’ kennen we niet."),
    "csv.empty": N_("Dit bestand bevat geen stands."),
    "csv.too_large": N_("Dit bestand is te groot: maximaal %(max)s stands."),
    "csv.duplicate": N_("Deze korte naam staat ook op regel %(other)s."),
    "staff.not_found": N_("Deze medewerker bestaat niet."),
    "staff.email_taken": N_("Er is al een medewerker met dit e-mailadres."),
    "staff.in_conversation": N_(
        "Deze adviseur is nu in gesprek. Probeer het opnieuw als het gesprek is afgelopen."
    ),
    "staff.self": N_("Je eigen account kun je hier niet uitzetten."),
    "staff.not_advisor": N_("Alleen adviseurs horen bij een stand."),
    "invitation.not_found": N_(
        "Deze uitnodiging bestaat niet (meer). Vraag de organisatie om een nieuwe link."
    ),
    "invitation.used": N_("Deze uitnodiging is al gebruikt. Log in met je wachtwoord."),
    "invitation.expired": N_(
        "Deze uitnodiging is verlopen. Vraag de organisatie om een nieuwe link."
    ),
    "day.not_found": N_("Deze dag hoort niet bij het evenement."),
    "day.slots_outside": N_(
        "Er staan roosterblokken buiten deze tijden (%(count)s). Pas het rooster eerst aan."
    ),
    "slot.not_found": N_("Dit roosterblok bestaat niet (meer)."),
    "slot.outside_day": N_(
        "Dit blok valt buiten de openingstijden van die dag (%(opens)s–%(closes)s)."
    ),
    "slot.overlap": N_("Deze adviseur staat dan al ingeroosterd (%(starts)s–%(ends)s)."),
    "rate.limited": N_(
        "Je doet dit te vaak achter elkaar. Wacht %(seconds)s seconden en probeer het opnieuw."
    ),
    "booth.not_found": N_("Deze stand bestaat niet."),
    "booth.closed": N_("Deze stand is nu niet open. Kijk in het schema wanneer hij opent."),
    "advisor.not_found": N_("Deze adviseur bestaat niet bij deze stand."),
    "advisor.bad_status": N_("Deze status kun je nu niet kiezen."),
    "advisor.busy": N_("Je bent al in gesprek. Rond dat eerst af."),
    "request.already_open": N_(
        "Je hebt al een open verzoek. Annuleer dat eerst als je ergens anders wilt inzoomen."
    ),
    "request.in_conversation": N_("Je bent nu in gesprek. Na het gesprek kun je opnieuw inzoomen."),
    "request.not_found": N_("Dit verzoek bestaat niet (meer)."),
    "request.not_waiting": N_("Dit verzoek wacht niet meer: iemand anders heeft het al opgepakt."),
    "request.queue_empty": N_("Er wacht nu niemand."),
    "conversation.not_found": N_("Dit gesprek bestaat niet."),
    "conversation.ended": N_("Dit gesprek is al afgelopen."),
    "feedback.not_ended": N_("Je kunt het gesprek beoordelen als het is afgelopen."),
    "feedback.already_given": N_("Je hebt dit gesprek al beoordeeld. Bedankt!"),
    "feedback.no_show": N_("Dit gesprek is niet doorgegaan: je bent niet gekomen."),
    # follow-up appointments and the advisors' availability
    "input.datetime": N_("Vul een datum en tijd in, bijvoorbeeld 2026-03-12 14:30."),
    "follow_up.not_found": N_("Deze afspraak bestaat niet."),
    "follow_up.in_past": N_("Kies een tijd in de toekomst."),
    "follow_up.too_far": N_("Kies een tijd binnen een jaar."),
    "follow_up.bad_length": N_("Kies een lengte van 15, 20, 30, 45 of 60 minuten."),
    "follow_up.overlap": N_(
        "Deze adviseur heeft dan al een vervolgafspraak (%(day)s om %(time)s). Kies een "
        "andere tijd."
    ),
    "follow_up.address_required": N_("Vul het adres in waar de afspraak is."),
    "follow_up.phone_required": N_(
        "De kandidaat heeft geen telefoonnummer opgegeven. Vul een nummer in of kies video."
    ),
    "follow_up.cancelled": N_("Deze afspraak is geannuleerd."),
    "follow_up.passed": N_("Deze afspraak is al voorbij."),
    "availability.not_found": N_("Deze beschikbaarheid bestaat niet (meer)."),
    "availability.overlap": N_("Je bent dan al beschikbaar. Kies een periode die niet overlapt."),
    "availability.too_long": N_("Een periode duurt hoogstens %(hours)s uur."),
    "availability.too_many": N_(
        "Je hebt al %(max)s periodes. Verwijder er eerst een voordat je een nieuwe toevoegt."
    ),
    # the call on the hall's own page
    "call.not_found": N_("Dit gesprek bestaat niet, of je bent er geen deelnemer van."),
    "call.ended": N_("Dit gesprek is afgelopen."),
    "call.no_personal_link": N_("Deze adviseur heeft geen eigen videolink."),
    "call.no_room": N_("Er is geen uitwijkruimte voor dit gesprek."),
    "call.phone_consent": N_("Geef toestemming dat de adviseur je op dit nummer belt."),
    # readiness ("Ben je er klaar voor?")
    "ready.not_asked": N_("We hebben je nog niet gevraagd of je klaar bent. Wacht nog even."),
    "ready.already_confirmed": N_("Je hebt al laten weten dat je klaar bent."),
    "ready.already_extended": N_("Je hebt al een keer meer tijd gekregen."),
    # the moderator's outbox
    "mail.not_found": N_("Dit bericht bestaat niet (meer)."),
    # announcements
    "announcement.not_found": N_("Deze mededeling bestaat niet."),
    "announcement.ended": N_("Deze mededeling is al beëindigd."),
    "announcement.too_many": N_(
        "Er staan al %(max)s mededelingen live. Beëindig er eerst een voordat je een nieuwe "
        "plaatst."
    ),
    "server.error": N_("Er ging iets mis aan onze kant. Probeer het zo nog een keer."),
    # The database did not answer (restarting, unreachable): nothing was changed.
    "server.unavailable": N_(
        "De hal kan dit even niet opslaan. Er is niets veranderd; probeer het over een paar "
        "seconden opnieuw."
    ),
    # the moderator steps in
    "event.closed": N_("Het evenement is nu gesloten. Je kunt nu geen gesprek aanvragen."),
    "booth.closed_by_moderator": N_(
        "Deze stand is gesloten door de organisatie. Kies een andere stand in de hal."
    ),
    "candidate.blocked": N_(
        "Je kunt geen gesprekken meer aanvragen. Heb je een vraag? Neem contact op met de "
        "organisatie."
    ),
    "candidate.blocked_email": N_(
        "Met dit e-mailadres kun je je niet aanmelden. Heb je een vraag? Neem contact op met "
        "de organisatie."
    ),
    "candidate.not_found": N_("Deze kandidaat bestaat niet (meer)."),
    "advisor.not_present": N_("Deze adviseur is nu niet aanwezig. Kies iemand anders."),
    "moderation.no_change": N_("Dat was al zo: er is niets veranderd."),
    "moderation.more_waiting": N_(
        "Er is niets veranderd: er wachten nu meer kandidaten (%(waiting)s) dan je hebt bevestigd."
    ),
    "input.confirm": N_("Vink aan dat je het zeker weet."),
    # an advisor hands a candidate to another booth
    "transfer.same_booth": N_("Je kunt niet doorverwijzen naar je eigen stand. Kies een andere."),
    # the end of the ten minutes: extending a conversation
    "conversation.extension_not_allowed": N_(
        "Verlengen kan nu niet: er wacht iemand op je (wachtenden: %(waiting)s). Rond af of "
        "maak een vervolgafspraak; de organisatie kan verlengen toestaan."
    ),
    "conversation.extension_limit": N_(
        "Dit gesprek is al met het maximum van %(minutes)s minuten verlengd."
    ),
    "conversation.extension_too_early": N_(
        "Verlengen kan pas vanaf de waarschuwing voor het einde van het gesprek."
    ),
    "conversation.extension_off": N_("Gesprekken verlengen staat uit bij dit evenement."),
}


class DomainError(Exception):
    """A rule said no. Nothing was changed."""

    def __init__(self, code: str, field: str | None = None, **params: Any) -> None:
        if code not in MESSAGES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(code)
        self.code = code
        self.field = field
        self.params = params

    def message(self) -> str:
        return gettext(MESSAGES[self.code], **self.params)


class ValidationError(DomainError):
    """Input did not match what an action expects; ``errors`` maps a field to its error."""

    def __init__(self, errors: dict[str, DomainError]) -> None:
        super().__init__("input.invalid")
        self.errors = errors

    def field_messages(self) -> dict[str, str]:
        return {name: err.message() for name, err in self.errors.items()}
