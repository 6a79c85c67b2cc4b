"""A demo event that looks like the LeerWerkWeek: 20 booths, their advisors and a schedule.

The event's first day was yesterday and is over: it holds a day of history (candidates who
zoomed in, their waits and conversations, follow-ups booked and ratings given), so the
moderator's report and exports have something to show; today and the days after are still to
come. Every organisation and person here is fictional. The output is deterministic: the same
``today`` always gives the same event, booths, accounts, schedule and history.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.core import names
from app.domain.accounts import MIN_PASSWORD_LENGTH, create_staff
from app.domain.booths import add_slot, create_booth
from app.domain.event import Event, add_day, has_event, save_event
from app.storage.db import Database, Transaction

DEMO_PASSWORD = "inzoomen-demo"
DEMO_EVENT_NAME = "LeerWerkWeek Midden-Utrecht (demo)"
DEMO_MODERATOR_EMAIL = "moderator@inzoomen.demo"
DEMO_DAYS = 5  # the first of them yesterday, with its history
DEMO_TIMEZONE = "Europe/Amsterdam"
DAY_OPENS = "09:00"
DAY_CLOSES = "17:00"


@dataclass(frozen=True)
class DemoLogins:
    """How to sign in to the demo: every staff account shares one password."""

    moderator_email: str
    advisor_emails: list[tuple[str, str]]  # (e-mail, booth name)
    password: str


@dataclass(frozen=True)
class _DemoBooth:
    slug: str
    name: str
    kind: str
    sector: str
    offers: tuple[str, ...]
    description: str


ADVICE_DESK = _DemoBooth(
    slug="leerwerkloket",
    name="Leerwerkloket Midden-Utrecht (demo)",
    kind="advice_desk",
    sector="advies",
    offers=("loopbaanadvies", "omscholing", "praktijkverklaring", "mbo_certificaat"),
    description=(
        "Twijfel je over een opleiding of een nieuwe baan? "
        "Onze adviseurs denken gratis en onafhankelijk met je mee."
    ),
)

BOOTHS: tuple[_DemoBooth, ...] = (
    _DemoBooth(
        slug="zorggroep-lindehof",
        name="Zorggroep Lindehof",
        kind="employer",
        sector="zorg",
        offers=("bbl", "praktijkverklaring", "vacature"),
        description=(
            "Wij zoeken helpenden en verzorgenden. "
            "Je leert het vak in de praktijk en gaat één dag per week naar school."
        ),
    ),
    _DemoBooth(
        slug="installatiebedrijf-vonk",
        name="Installatiebedrijf Vonk & Zonen",
        kind="employer",
        sector="techniek",
        offers=("bbl", "praktijkverklaring", "vacature"),
        description=(
            "Wij plaatsen zonnepanelen en warmtepompen. Je leert het vak naast een ervaren monteur."
        ),
    ),
    _DemoBooth(
        slug="bouwbedrijf-heuvelrug",
        name="Bouwbedrijf Heuvelrug",
        kind="employer",
        sector="bouw",
        offers=("bbl", "praktijkverklaring", "vacature"),
        description=(
            "Wij bouwen en verbouwen woningen in de regio. "
            "Als leerling-timmerman werk je vanaf de eerste dag mee op de bouwplaats."
        ),
    ),
    _DemoBooth(
        slug="distributiecentrum-lekpoort",
        name="Distributiecentrum Lekpoort",
        kind="employer",
        sector="logistiek",
        offers=("bbl", "praktijkverklaring", "mbo_certificaat", "vacature"),
        description=(
            "Wij zoeken orderpickers en heftruckchauffeurs. "
            "Je kunt bij ons je heftruckcertificaat halen."
        ),
    ),
    _DemoBooth(
        slug="datawerf",
        name="Datawerf Utrecht",
        kind="employer",
        sector="ict",
        offers=("omscholing", "mbo_certificaat", "vacature"),
        description=(
            "Wij zoeken medewerkers voor onze servicedesk. "
            "Ook zonder ervaring in de ICT kun je bij ons starten met een omscholing."
        ),
    ),
    _DemoBooth(
        slug="thuiszorg-kromme-rijn",
        name="Thuiszorg Kromme Rijn",
        kind="employer",
        sector="zorg",
        offers=("bbl", "omscholing", "vacature"),
        description=(
            "Wil je mensen thuis helpen? "
            "Wij leiden je op tot verzorgende IG, ook als je nu in een andere sector werkt."
        ),
    ),
    _DemoBooth(
        slug="vakcollege-vechtstreek",
        name="Vakcollege Vechtstreek",
        kind="school",
        sector="onderwijs",
        offers=("bbl", "bol", "omscholing", "mbo_certificaat"),
        description=(
            "Wij hebben mbo-opleidingen in veel richtingen. "
            "Ook als volwassene kun je bij ons leren en werken combineren."
        ),
    ),
    _DemoBooth(
        slug="machinefabriek-de-vaart",
        name="Machinefabriek De Vaart",
        kind="employer",
        sector="techniek",
        offers=("bbl", "omscholing", "mbo_certificaat"),
        description=(
            "Wij maken onderdelen voor machines. "
            "Bij ons kun je een korte opleiding tot CNC-operator volgen."
        ),
    ),
    _DemoBooth(
        slug="hotel-wilgenhoeve",
        name="Hotel-Restaurant De Wilgenhoeve",
        kind="employer",
        sector="horeca",
        offers=("bbl", "praktijkverklaring", "vacature"),
        description=(
            "Wil je kok of gastheer worden? Je leert het vak in onze keuken en in het restaurant."
        ),
    ),
    _DemoBooth(
        slug="gemeente-vechtenburg",
        name="Gemeente Vechtenburg",
        kind="employer",
        sector="overheid",
        offers=("bbl", "omscholing", "vacature"),
        description=(
            "Werken voor je eigen gemeente? "
            "Wij hebben leerwerkplekken in de buitendienst en op kantoor."
        ),
    ),
    _DemoBooth(
        slug="transport-van-der-wetering",
        name="Transportbedrijf Van der Wetering",
        kind="employer",
        sector="logistiek",
        offers=("bbl", "omscholing", "vacature"),
        description=(
            "Wil je chauffeur worden? "
            "Als je bij ons komt werken, betalen wij je rijbewijs C en je code 95."
        ),
    ),
    _DemoBooth(
        slug="codeschool-domstad",
        name="Codeschool Domstad",
        kind="school",
        sector="ict",
        offers=("bol", "omscholing", "mbo_certificaat"),
        description=(
            "Leer programmeren in een korte opleiding. Je sluit af met een erkend mbo-certificaat."
        ),
    ),
    _DemoBooth(
        slug="kinderopvang-speelkwartier",
        name="Kinderopvang Het Speelkwartier",
        kind="employer",
        sector="zorg",
        offers=("bbl", "mbo_certificaat", "vacature"),
        description=(
            "Werk je graag met kinderen? "
            "Je begint als pedagogisch medewerker in opleiding en krijgt meteen een contract."
        ),
    ),
    _DemoBooth(
        slug="schildersbedrijf-kleurrijk",
        name="Schildersbedrijf Kleurrijk",
        kind="employer",
        sector="bouw",
        offers=("bbl", "omscholing", "vacature"),
        description=(
            "Wij leiden je op tot schilder. "
            "Je werkt en leert tegelijk en krijgt vanaf de eerste dag loon."
        ),
    ),
    _DemoBooth(
        slug="supermarkt-versplein",
        name="Supermarktgroep Versplein",
        kind="employer",
        sector="retail",
        offers=("bbl", "mbo_certificaat", "vacature"),
        description=(
            "Wij zoeken medewerkers voor onze winkels in de regio. "
            "Bij ons kun je doorgroeien tot teamleider."
        ),
    ),
    _DemoBooth(
        slug="vakschool-techniek-lekdal",
        name="Vakschool Techniek Lekdal",
        kind="school",
        sector="techniek",
        offers=("bbl", "bol", "omscholing", "mbo_certificaat"),
        description=(
            "Wij hebben mbo-opleidingen in de techniek. "
            "Naast je werk kun je bij ons ook een kort certificaat halen."
        ),
    ),
    _DemoBooth(
        slug="basisonderwijs-de-waarden",
        name="Stichting Basisonderwijs De Waarden",
        kind="employer",
        sector="onderwijs",
        offers=("bbl", "omscholing", "vacature"),
        description=(
            "Word onderwijsassistent op een basisschool. "
            "Je leert in de klas en gaat één dag per week naar school."
        ),
    ),
    _DemoBooth(
        slug="waterschap-polder-en-rivier",
        name="Waterschap Polder en Rivier",
        kind="employer",
        sector="overheid",
        offers=("bbl", "mbo_certificaat", "vacature"),
        description=(
            "Wij zorgen voor veilige dijken en schoon water. "
            "Bij ons leer je het vak van medewerker waterbeheer."
        ),
    ),
    _DemoBooth(
        slug="hoveniersbedrijf-groene-hand",
        name="Hoveniersbedrijf De Groene Hand",
        kind="employer",
        sector="groen",
        offers=("bbl", "praktijkverklaring", "mbo_certificaat", "vacature"),
        description=(
            "Werk je graag buiten? Word hovenier en leer tuinen aanleggen en onderhouden."
        ),
    ),
)

# Fictional advisors, handed out in this order: the advice desk gets the first two.
ADVISOR_NAMES: tuple[tuple[str, str], ...] = (
    ("Sanne", "de Vries"),
    ("Joost", "Jansen"),
    ("Fatima", "El Amrani"),
    ("Ruben", "Bakker"),
    ("Esther", "Visser"),
    ("Mehmet", "Yilmaz"),
    ("Linda", "Smit"),
    ("Daan", "Meijer"),
    ("Naima", "Bouzid"),
    ("Pieter", "de Graaf"),
    ("Ilse", "Mulder"),
    ("Youssef", "Benali"),
    ("Anouk", "van Dijk"),
    ("Bram", "Hendriks"),
    ("Yvonne", "Kok"),
    ("Kevin", "Verhoeven"),
    ("Samira", "Haddou"),
    ("Wouter", "Dekker"),
    ("Petra", "van Leeuwen"),
    ("Hasan", "Demir"),
    ("Marloes", "Brouwer"),
    ("Thijs", "Peters"),
    ("Ingrid", "Schouten"),
    ("Rachid", "Ait Taleb"),
    ("Lotte", "Vermeulen"),
    ("Jeroen", "van den Berg"),
    ("Chantal", "Koster"),
    ("Sven", "Hoekstra"),
    ("Nadia", "Aydin"),
    ("Gerrit", "Post"),
    ("Femke", "Willems"),
    ("Koen", "Kuipers"),
    ("Miriam", "Boersma"),
    ("Arjen", "Prins"),
    ("Priya", "Ramdin"),
    ("Stefan", "Scholten"),
)

# Opening patterns per booth and day: (starts, ends) in local "HH:MM", inside 09:00-17:00.
PATTERNS: tuple[tuple[tuple[str, str], ...], ...] = (
    (("09:00", "12:00"), ("13:00", "17:00")),
    (("13:00", "16:30"),),
    (("10:00", "15:00"),),
    (("09:30", "12:00"), ("13:30", "16:00")),
    (("09:00", "12:30"),),
)
ADVICE_DESK_PATTERN: tuple[tuple[str, str], ...] = (("09:00", "12:00"), ("13:00", "17:00"))


def _ascii_lower(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


def _advisor_email(first_name: str, booth_slug: str) -> str:
    return f"{_ascii_lower(first_name)}@{booth_slug}.demo"


def _advisor_count(position: int) -> int:
    """Odd positions have two advisors, even positions one."""
    return 2 if position % 2 == 1 else 1


def _day_slots(position: int, day_index: int, advisors: list[int]) -> list[tuple[str, str, int]]:
    """The (starts, ends, staff_id) slots of one booth (not the advice desk) on one day."""
    pattern = PATTERNS[(position + day_index) % len(PATTERNS)]
    if len(advisors) == 1:
        return [(starts, ends, advisors[0]) for starts, ends in pattern]
    if len(pattern) == 1:
        # One block: both advisors staff it, so the booth has two conversations at a time.
        starts, ends = pattern[0]
        return [(starts, ends, staff_id) for staff_id in advisors]
    # Two blocks: the advisors take turns, and swap blocks from day to day.
    return [
        (starts, ends, advisors[(block + day_index) % len(advisors)])
        for block, (starts, ends) in enumerate(pattern)
    ]


async def _add_advisors(
    tx: Transaction,
    booth: _DemoBooth,
    booth_id: int,
    names: list[tuple[str, str]],
    password: str,
) -> list[int]:
    staff_ids: list[int] = []
    for first, last in names:
        staff_ids.append(
            await create_staff(
                tx,
                email=_advisor_email(first, booth.slug),
                name=f"{first} {last}",
                role="advisor",
                password=password,
                booth_id=booth_id,
                personal_link="",
            )
        )
    return staff_ids


VISITOR_NAMES = (
    "Sanne", "Mohamed", "Emma", "Daan", "Fatima", "Lucas", "Aylin", "Bas", "Noor", "Kevin",
    "Priya", "Jeroen", "Ilse", "Omar", "Marieke", "Tim", "Leyla", "Ruud", "Zoë", "Hamza",
)  # fmt: skip
COMMENTS = (
    "Duidelijk verhaal, ik weet nu wat BBL inhoudt.",
    "Fijn gesprek, ik ga solliciteren.",
    "Tien minuten was kort, maar we hebben een vervolgafspraak.",
    "Goede tips voor mijn cv.",
    "",
)
FOLLOW_UP_MESSAGES = (
    "Neem je cv en diploma's mee.",
    "We bellen je om de opleiding door te nemen.",
    "Kom een dag meelopen op de afdeling.",
)


async def _seed_history(
    tx: Transaction, day: date, staffed: list[tuple[int, list[tuple[str, str, int]]]]
) -> None:
    """Yesterday's history: per advisor block, conversations one after another, each after a
    wait in line; some requests cancelled, declined or lapsed; follow-ups and ratings."""
    rnd = random.Random(day.toordinal())
    zone = ZoneInfo(DEMO_TIMEZONE)

    def at(clock: str) -> float:
        hours, minutes = (int(part) for part in clock.split(":"))
        return datetime.combine(day, time(hours, minutes), zone).timestamp()

    visitors = 0

    async def visitor(moment: float) -> int:
        nonlocal visitors
        visitors += 1
        name = f"{VISITOR_NAMES[visitors % len(VISITOR_NAMES)]} (demo {visitors})"
        return await tx.insert(
            "INSERT INTO candidates (name, email, consent_at, created_at) VALUES (?, ?, ?, ?)",
            (name, f"bezoeker{visitors}@voorbeeld.demo", moment, moment),
        )

    async def request(
        booth_id: int, candidate: int, created: float, status: str, closed: float, by: int | None
    ) -> int:
        reason = "away" if status == "expired" else ""
        return await tx.insert(
            "INSERT INTO requests (booth_id, candidate_id, status, client_key, created_at, "
            "expires_at, closed_at, closed_by, closed_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (booth_id, candidate, status, f"demo-{candidate}", created, created + 5400, closed,
             by, reason),
        )  # fmt: skip

    for booth_id, slots in staffed:
        for starts, ends, advisor in slots:
            moment, closes = at(starts) + rnd.uniform(2, 15) * 60, at(ends)
            while moment + 6 * 60 < closes:
                wait = rnd.choice((0.5, 1, 2, 3, 4, 6, 8, 11, 15, 22)) * 60
                candidate = await visitor(moment - wait)
                kind = rnd.random()
                if kind < 0.08:  # gave up waiting
                    await request(booth_id, candidate, moment - wait, "cancelled", moment, None)
                    moment += rnd.uniform(1, 4) * 60
                    continue
                if kind < 0.12:  # went away and lapsed
                    await request(booth_id, candidate, moment - wait, "expired", moment, None)
                    continue
                if kind < 0.15:  # declined: the wrong booth for the question
                    await request(booth_id, candidate, moment - wait, "declined", moment, advisor)
                    moment += 60
                    continue
                request_id = await request(
                    booth_id, candidate, moment - wait, "accepted", moment, advisor
                )
                length = rnd.uniform(6, 14) * 60
                conversation = await tx.insert(
                    "INSERT INTO conversations (request_id, booth_id, advisor_id, candidate_id, "
                    "video_url, started_at, ends_at, warned_at, time_up_at, ended_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        request_id,
                        booth_id,
                        advisor,
                        candidate,
                        f"https://meet.jit.si/inzoomen-demo-{request_id}",
                        moment,
                        moment + 600,
                        moment + 480 if length > 480 else None,
                        moment + 600 if length > 600 else None,
                        moment + length,
                    ),
                )
                ended = moment + length
                if rnd.random() < 0.3:
                    later = day + timedelta(days=rnd.randint(2, 9))
                    mode = rnd.choice(("video", "phone", "on_site"))
                    await tx.insert(
                        "INSERT INTO follow_ups (conversation_id, booth_id, advisor_id, "
                        "candidate_id, starts_at, minutes, mode, location, message, created_at, "
                        "created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            conversation,
                            booth_id,
                            advisor,
                            candidate,
                            datetime.combine(later, time(10, 0), zone).timestamp(),
                            rnd.choice((20, 30, 45)),
                            mode,
                            "Hoofdingang, vraag naar de receptie" if mode == "on_site" else "",
                            rnd.choice(FOLLOW_UP_MESSAGES),
                            ended,
                            advisor,
                        ),
                    )
                if rnd.random() < 0.6:
                    await tx.insert(
                        "INSERT INTO feedback (conversation_id, rating, comment, created_at) "
                        "VALUES (?, ?, ?, ?)",
                        (conversation, rnd.choice((3, 4, 4, 5, 5, 5)), rnd.choice(COMMENTS),
                         ended + 60),
                    )  # fmt: skip
                moment = ended + rnd.uniform(1, 12) * 60


async def seed_demo(db: Database, today: date, password: str = DEMO_PASSWORD) -> DemoLogins:
    """Create the demo event in an empty database: days from yesterday (with its history),
    booths, staff, schedule.

    Raises ``ValueError`` when the database already has an event or the password is too short.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the demo password needs at least {MIN_PASSWORD_LENGTH} characters")
    if await has_event(db):
        raise ValueError(
            "this database already has an event; seed the demo into a new, empty database"
        )

    days = [today + timedelta(days=offset - 1) for offset in range(DEMO_DAYS)]
    staffed: list[tuple[int, list[tuple[str, str, int]]]] = []
    names = iter(ADVISOR_NAMES)
    advisor_emails: list[tuple[str, str]] = []

    async with db.transaction() as tx:
        if await tx.fetchone("SELECT 1 FROM event") is not None:
            raise ValueError(
                "this database already has an event; seed the demo into a new, empty database"
            )
        await save_event(
            tx,
            Event(
                name=DEMO_EVENT_NAME,
                timezone=DEMO_TIMEZONE,
                conversation_seconds=600,
                warning_seconds=120,
                video_provider="builtin",
                video_base_url="https://meet.jit.si",
            ),
        )
        for day in days:
            await add_day(tx, day, DAY_OPENS, DAY_CLOSES)

        await create_staff(
            tx,
            email=DEMO_MODERATOR_EMAIL,
            name="Moderator",
            role="moderator",
            password=password,
            booth_id=None,
        )

        for position, booth in enumerate((ADVICE_DESK, *BOOTHS)):
            booth_id = await create_booth(
                tx,
                slug=booth.slug,
                name=booth.name,
                kind=booth.kind,
                sector=booth.sector,
                offers=booth.offers,
                description=booth.description,
                position=position,
            )
            count = 2 if booth is ADVICE_DESK else _advisor_count(position)
            booth_names = [next(names) for _ in range(count)]
            staff_ids = await _add_advisors(tx, booth, booth_id, booth_names, password)
            advisor_emails.extend(
                (_advisor_email(first, booth.slug), booth.name) for first, _last in booth_names
            )

            for day_index, day in enumerate(days):
                if booth is ADVICE_DESK:
                    slots = [
                        (starts, ends, staff_id)
                        for starts, ends in ADVICE_DESK_PATTERN
                        for staff_id in staff_ids
                    ]
                else:
                    slots = _day_slots(position, day_index, staff_ids)
                for starts, ends, staff_id in slots:
                    await add_slot(tx, booth_id, day, starts, ends, staff_id)
                if day_index == 0:
                    staffed.append((booth_id, slots))

        await _seed_history(tx, days[0], staffed)

    return DemoLogins(
        moderator_email=DEMO_MODERATOR_EMAIL,
        advisor_emails=advisor_emails,
        password=password,
    )


async def existing_logins(db: Database, password: str = DEMO_PASSWORD) -> DemoLogins:
    """The logins of a demo event seeded earlier into this database."""
    rows = await db.fetchall(
        "SELECT s.email, s.name, b.name AS booth, b.position FROM staff s "
        "JOIN booths b ON b.id = s.booth_id WHERE s.role = 'advisor' AND s.active = 1"
    )
    rows = sorted(rows, key=lambda r: (r["position"], names.sort_key(r["name"])))
    moderator = await db.fetchvalue(
        "SELECT email FROM staff WHERE role = 'moderator' AND active = 1 ORDER BY id LIMIT 1"
    )
    return DemoLogins(
        moderator_email=str(moderator or ""),
        advisor_emails=[(r["email"], r["booth"]) for r in rows],
        password=password,
    )
