"""E-mail addresses as people type them: one check and one normal form for every place that
takes an address (the candidate's sign-in, the staff log-in, an invitation, the command line).

The syntax is judged by the maintained ``email-validator`` package, without looking anything
up in DNS: the hall must answer at once and work offline, and whether a mailbox exists only
shows when mail is sent. A refused address gets the usual ``input.email`` message plus, where
the mistake is a common one (two addresses, a comma, two dots in a row), a sentence naming it.

The normal form is the package's ``normalized``: the domain lower-cased and in Unicode (IDNA,
so ``jan@BÜCHER.example`` is ``jan@bücher.example``), the local part in Unicode NFC.

The local part keeps its case as typed. RFC 5321 leaves its case to the receiving server, so
mail goes to exactly what the person wrote. The hall still matches addresses without regard to
case, as it always has: ``staff.email`` is ``COLLATE NOCASE`` (log-in, the unique account,
the check before an invitation) and the moderator's block list compares ``lower(email)``.
Both fold ASCII letters only, on purpose: a Unicode fold would make look-alikes such as the
Kelvin sign ``K`` match an ordinary ``k`` and let one address stand for another's account.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from app.core.errors import DomainError
from app.core.i18n import N_, gettext

EMAIL_MAX = 254  # RFC 5321: the longest path a mail server has to accept

# A sentence added to the message for mistakes people often make; None: just the message.
NO_AT = N_("Er staat geen @ in.")
MANY_AT = N_("Er mag maar één @ in staan: vul één e-mailadres in.")
SEPARATORS = N_("Vul één e-mailadres in, zonder spaties, komma’s of puntkomma’s.")
SPECIAL = N_('Tekens als < > " ( ) [ ] \\ en : horen niet in een e-mailadres.')
DOUBLE_DOT = N_("Er staan twee punten na elkaar.")
EDGE_DOT = N_("Een punt mag niet vooraan, achteraan of naast de @ staan.")
NO_LOCAL = N_("Vóór de @ hoort je naam of een ander woord.")
NO_DOMAIN = N_("Na de @ hoort een domein met een punt, zoals voorbeeld.nl.")


class EmailError(DomainError):
    """``input.email`` for one field, with the reason the address was refused if it is a
    common mistake. The code stays ``input.email``: clients and tests know that one."""

    def __init__(self, field: str, hint: str | None) -> None:
        super().__init__("input.email", field=field)
        self.hint = hint

    def message(self) -> str:
        base = super().message()
        return base if self.hint is None else f"{base} {gettext(self.hint)}"


def _hint(typed: str) -> str | None:
    """The common mistake in a refused address, judged from the text itself rather than from
    the package's English wording, which may change between its versions."""
    if "@" not in typed:
        return NO_AT
    if any(c.isspace() or c in ",;" for c in typed):
        return SEPARATORS  # before the count of @: two addresses in a row have two
    if typed.count("@") > 1:
        return MANY_AT
    if any(c in '<>"()[]\\:' for c in typed):
        return SPECIAL
    local, domain = typed.split("@")
    if not local:
        return NO_LOCAL
    if ".." in typed:
        return DOUBLE_DOT
    if local.startswith(".") or local.endswith(".") or domain.startswith("."):
        return EDGE_DOT
    if "." not in domain.rstrip("."):
        return NO_DOMAIN
    return None


def normalise(address: str, *, field: str = "email") -> str:
    """The address in its normal form, or a ``DomainError`` for ``field``: ``input.required``
    when nothing was typed, ``input.email`` (an ``EmailError``) when it is no address."""
    typed = address.strip()
    if not typed:
        raise DomainError("input.required", field=field)
    if len(typed) > EMAIL_MAX:
        raise EmailError(field, None)
    try:
        # test_environment: the names under .test (RFC 6761) are accepted, because rehearsals
        # and training events use made-up addresses there; .invalid, .localhost, .local and
        # the like stay refused. It looks nothing up (check_deliverability is off anyway).
        checked = validate_email(typed, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        raise EmailError(field, _hint(typed)) from None
    if "." not in checked.domain:
        # test_environment would let a bare "test" through as a whole domain: no real
        # address looks like that.
        raise EmailError(field, NO_DOMAIN)
    return str(checked.normalized)


def is_valid(address: str) -> bool:
    """Whether ``normalise`` accepts the address (for code that only needs a yes or no)."""
    try:
        normalise(address)
    except DomainError:
        return False
    return True


def lookup_form(address: str) -> str:
    """The address to look an account up by: its normal form, or the text as typed (without
    the spaces around it) when it is no valid address. Used where refusing the text outright
    would lock out an account made before addresses were checked, and as the name a failed
    log-in is counted under, so ``jan@xn--bcher-kva.example`` and ``jan@BÜCHER.example``
    count as the one account they are."""
    try:
        return normalise(address)
    except DomainError:
        return address.strip()


def ascii_form(address: str) -> str:
    """The address as a mail server without SMTPUTF8 takes it: the domain in its ASCII
    (IDNA) form, ``jan@xn--bcher-kva.example``. An address whose local part is not ASCII
    has no such form and is returned in its normal form; one the check refuses (stored before
    it existed) is returned as it is."""
    try:
        checked = validate_email(address, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return address
    return str(checked.ascii_email or checked.normalized)
