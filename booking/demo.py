"""Demo data (SPEC §8): buildings with staffed hours, ~15 rooms including a divisible gym,
organisations of every price category with their own contact people, users of every role, a week
of bookings from the day the demo is loaded (today included, in every building) with requests
waiting for approval, some of them competing, a season of weekly rehearsals from the next week on,
and a seasonal application round (SPEC §14) open for applications, with a few applications already
in. Idempotent: a second run changes nothing."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select, update

from booking.extensions import db
from booking.models import Building, janitor_buildings
from booking.services.access import Actor
from booking.services.buildings import create_building
from booking.services.organizations import register_organization, update_organization
from booking.services.rooms import create_room
from booking.services.users import add_user
from pricing.weekly import OSLO, WeeklyWindow, parse_windows

ADMIN = Actor(user_id=0, role="admin")
DEMO_PASSWORD = "demo-password"  # every demo user; documented in the README

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def _hours(days, start: str, end: str) -> list[WeeklyWindow]:
    return parse_windows({"day": day, "start": start, "end": end} for day in days)


BUILDINGS = [
    {
        "name": "Bekkestua kulturhus",
        "address": "Gamle Ringeriksvei 40, 1357 Bekkestua",
        "staffed_hours": _hours(WEEKDAYS, "08:00", "16:00"),
        "opening_hours": _hours((*WEEKDAYS, "sat", "sun"), "07:00", "23:00"),
        "closures": [{"start_date": date(2026, 12, 24), "end_date": date(2026, 12, 26), "reason": "Jul"}],
        "rooms": [
            {
                "name": "Storsalen",
                "kind": "hall",
                "capacity": 300,
                "equipment": ["piano", "stage", "sound"],
                "accessible": True,
                "requires_approval": True,
                "buffer_minutes": 30,
                "min_duration_minutes": 60,
            },
            {
                "name": "Øvingsrom 1",
                "kind": "rehearsal_room",
                "capacity": 25,
                "equipment": ["piano"],
                "buffer_minutes": 15,
            },
            {
                "name": "Øvingsrom 2",
                "kind": "rehearsal_room",
                "capacity": 12,
                "equipment": ["drums", "amplifier"],
            },
            {
                "name": "Møterom Kaffekroken",
                "kind": "meeting_room",
                "capacity": 14,
                "equipment": ["projector", "coffee"],
                "accessible": True,
                "supervision": "never",
            },
            {"name": "Verkstedet", "kind": "classroom", "capacity": 20, "equipment": ["projector"]},
        ],
    },
    {
        "name": "Hauger skole",
        "address": "Haugerveien 10, 1338 Sandvika",
        "staffed_hours": _hours(WEEKDAYS, "07:30", "17:00"),
        "opening_hours": _hours((*WEEKDAYS, "sat", "sun"), "08:00", "22:00"),
        "closures": [{"start_date": date(2026, 12, 21), "end_date": date(2027, 1, 1), "reason": "Juleferie"}],
        "rooms": [
            {"name": "Gymsal A", "kind": "gym", "capacity": 40, "equipment": ["wall-bars"]},
            {"name": "Gymsal B", "kind": "gym", "capacity": 40, "equipment": ["wall-bars"]},
            {
                "name": "Gymsal hele",
                "kind": "gym",
                "capacity": 80,
                "equipment": ["wall-bars"],
                "parts": ["Gymsal A", "Gymsal B"],
            },
            {"name": "Klasserom 101", "kind": "classroom", "capacity": 30, "equipment": ["projector"]},
            {"name": "Klasserom 102", "kind": "classroom", "capacity": 30, "equipment": ["projector"]},
            {
                "name": "Musikkrommet",
                "kind": "rehearsal_room",
                "capacity": 30,
                "equipment": ["piano", "drums"],
            },
        ],
    },
    {
        "name": "Rykkinnhallen",
        "address": "Rykkinnveien 100, 1349 Rykkinn",
        "staffed_hours": _hours((*WEEKDAYS, "sat"), "08:00", "22:00"),
        "opening_hours": _hours((*WEEKDAYS, "sat", "sun"), "08:00", "23:00"),
        "closures": [],
        "rooms": [
            {
                "name": "Hallflate",
                "kind": "sports_hall",
                "capacity": 200,
                "equipment": ["scoreboard"],
                "accessible": True,
                "requires_approval": True,
                "buffer_minutes": 15,
                "min_duration_minutes": 60,
            },
            {"name": "Klubbrommet", "kind": "meeting_room", "capacity": 20, "equipment": ["coffee"]},
            {
                "name": "Styrerommet",
                "kind": "meeting_room",
                "capacity": 10,
                "equipment": ["projector"],
                "accessible": True,
            },
        ],
    },
]

ORGANIZATIONS = [
    # (name, org number, facts, verified) — facts decide the proposed category
    (
        "Bekkestua Skolekorps",
        "974760673",
        dict(voluntary=True, local=True, registered_in_frivillighetsregisteret=True, youth_activity=True),
        True,
    ),  # free
    ("Bærum Seniordans", "123456785", dict(voluntary=True, local=True), True),  # reduced
    (
        "Rykkinn Innebandyklubb",
        "910000004",
        dict(voluntary=True, local=True, registered_in_frivillighetsregisteret=True, youth_activity=True),
        True,
    ),  # free
    ("Nordisk Konsulentforum AS", "920000002", dict(), True),  # full
    ("Sandvika Sjakklubb", "930000000", dict(voluntary=True, local=True), False),  # unverified
]

# Each organisation's contact person and phone, as the janitor's day sheet and the admin pages
# show them.
CONTACTS = {
    "Bekkestua Skolekorps": ("Ingrid Haugen", "+47 412 34 501"),
    "Bærum Seniordans": ("Per Johansen", "+47 928 11 402"),
    "Rykkinn Innebandyklubb": ("Silje Andersen", "+47 466 70 213"),
    "Nordisk Konsulentforum AS": ("Martin Lund", "+47 900 55 318"),
    "Sandvika Sjakklubb": ("Ahmed Karimi", "+47 975 02 644"),
}

# The consultancy's contact address is its member's, who reads mail in English: the demo's mails
# (instance/mail/*.eml) come in both languages.
CONTACT_EMAILS = {"Nordisk Konsulentforum AS": "konsulent@demo.test"}
ENGLISH = {"konsulent@demo.test"}

USERS = [
    ("admin@demo.test", "Demo Admin", "admin", [], []),
    ("vaktmester@demo.test", "Demo Vaktmester", "janitor", [], ["Bekkestua kulturhus", "Hauger skole"]),
    ("korps@demo.test", "Demo Korpsleder", "member", ["Bekkestua Skolekorps"], []),
    ("dans@demo.test", "Demo Danseleder", "member", ["Bærum Seniordans"], []),
    ("innebandy@demo.test", "Demo Innebandyleder", "member", ["Rykkinn Innebandyklubb"], []),
    ("konsulent@demo.test", "Demo Konsulent", "member", ["Nordisk Konsulentforum AS"], []),
    ("sjakk@demo.test", "Demo Sjakkleder", "member", ["Sandvika Sjakklubb"], []),
]


def load_demo() -> bool:
    """Create the demo data unless it is there; returns whether anything was created."""
    if db.session.execute(select(Building.id).where(Building.name == BUILDINGS[0]["name"])).first():
        return False
    buildings = {}
    for spec in BUILDINGS:
        spec = dict(spec)
        rooms = spec.pop("rooms")
        building = create_building(ADMIN, spec)
        buildings[building.name] = building
        by_name = {}
        for room in rooms:
            room = dict(room, building_id=building.id)
            room["part_ids"] = [by_name[name].id for name in room.pop("parts", [])]
            by_name[room["name"]] = create_room(ADMIN, room)
    organizations = {}
    for name, number, facts, verified in ORGANIZATIONS:
        org = register_organization(
            Actor(),
            dict(
                facts,
                name=name,
                org_number=number,
                contact_name=CONTACTS[name][0],
                email=CONTACT_EMAILS.get(name, f"post@{number}.demo.test"),
                phone=CONTACTS[name][1],
            ),
        )
        if verified:
            update_organization(ADMIN, org.id, {"verified": True})
        organizations[name] = org
    users = {}
    for email, name, role, orgs, blds in USERS:
        users[email] = user = add_user(
            {
                "email": email,
                "name": name,
                "role": role,
                "password": DEMO_PASSWORD,
                "organization_ids": [organizations[o].id for o in orgs],
                "building_ids": [buildings[b].id for b in blds],
                "language": "en" if email in ENGLISH else "nb",
            }
        )
        if role == "janitor":  # the morning mail with tomorrow's day sheet, to see one
            mine = janitor_buildings.c.user_id == user.id
            db.session.execute(update(janitor_buildings).where(mine).values(morning_sheet=True))
    db.session.flush()
    _week_of_bookings(buildings, organizations, users, datetime.now(OSLO).date())
    _season_of_rehearsals(buildings, organizations)
    _application_round(buildings, organizations, users)
    return True


# (organisation, building, room, weekday 0=Mon, start, end, title, weeks)
SEASON = [
    ("Bekkestua Skolekorps", "Bekkestua kulturhus", "Øvingsrom 1", 1, "18:00", "20:00", "Korpsøvelse", 20),
    ("Bærum Seniordans", "Bekkestua kulturhus", "Storsalen", 3, "11:00", "13:00", "Seniordans", 20),
    ("Rykkinn Innebandyklubb", "Hauger skole", "Gymsal A", 0, "17:00", "18:30", "Innebandy G12", 20),
    ("Rykkinn Innebandyklubb", "Hauger skole", "Gymsal hele", 2, "19:00", "21:00", "Innebandy senior", 20),
    ("Nordisk Konsulentforum AS", "Rykkinnhallen", "Styrerommet", 0, "16:00", "20:00", "Styremøte", 6),
]


def _season_of_rehearsals(buildings: dict, organizations: dict) -> None:
    """Weekly series from next week on, skipping holidays and closures (the admin books them, so
    rooms that need approval are confirmed at once)."""
    from booking.services.bookings import BookingRequest, create_booking

    today = datetime.now(OSLO).date()
    for org, building, room_name, weekday, start, end, title, weeks in SEASON:
        room = next(r for r in buildings[building].rooms if r.name == room_name)
        first = today + timedelta(days=7 + (weekday - today.weekday()) % 7)
        create_booking(
            ADMIN,
            BookingRequest.from_input(
                {
                    "room_id": room.id,
                    "organization_id": organizations[org].id,
                    "title": title,
                    "start": datetime.combine(first, time.fromisoformat(start), OSLO),
                    "end": datetime.combine(first, time.fromisoformat(end), OSLO),
                    "attendees": min(room.capacity, 15),
                    "recurrence": {"rrule": f"FREQ=WEEKLY;COUNT={weeks}"},
                    "on_conflict": "skip",
                    "skip_holidays": True,
                    "public_title": True,
                    "notes": "Nøkkel hentes i resepsjonen.",
                }
            ),
        )


# The round's rooms: Hauger skole's music room and the two halves of its gym, none of which a
# member books in the rest of the demo (while the round is unpublished, members cannot book in its
# rooms during its season: SPEC §14, ``season_allocation_pending``).
ROUND_ROOMS = ("Musikkrommet", "Gymsal A", "Gymsal B")

# (member, organisation, children and youth, attendees, description, wishes as
# (room, weekday 0=Mon, start, end)), in the order the organisations rank them. Two evenings are
# wanted twice: the korps (children and youth, free) and the consultancy's choir (full price)
# both want Musikkrommet on Tuesday evening, so the class decides; the dancers and the senior
# floorball team (both in the second class) want Gymsal B on Tuesday after the youth team, so the
# lottery decides, and whoever loses it gets a later wish.
APPLICATIONS = [
    (
        "korps@demo.test",
        "Bekkestua Skolekorps",
        True,
        25,
        "Hovedkorpset øver hver uke.",
        [("Musikkrommet", 1, "18:00", "20:00"), ("Musikkrommet", 3, "18:00", "20:00")],
    ),
    (
        "innebandy@demo.test",
        "Rykkinn Innebandyklubb",
        True,
        20,
        "Innebandy for jenter 10-12 år.",
        [("Gymsal B", 1, "17:00", "18:30"), ("Gymsal B", 3, "17:00", "18:30")],
    ),
    (
        "innebandy@demo.test",
        "Rykkinn Innebandyklubb",
        False,
        16,
        "Seniorlaget trener.",
        [("Gymsal B", 1, "18:30", "20:30"), ("Gymsal A", 1, "18:30", "20:30")],
    ),
    (
        "dans@demo.test",
        "Bærum Seniordans",
        False,
        18,
        "Kveldsparti for seniordans.",
        [
            ("Gymsal B", 1, "18:30", "20:00"),
            ("Gymsal B", 3, "18:30", "20:00"),
            ("Gymsal A", 4, "17:00", "18:30"),
        ],
    ),
    (
        "konsulent@demo.test",
        "Nordisk Konsulentforum AS",
        False,
        20,
        "Bedriftskoret øver.",
        [("Musikkrommet", 1, "19:00", "21:00"), ("Musikkrommet", 2, "19:00", "21:00")],
    ),
]


def round_dates(today: date) -> dict:
    """The demo round's times around ``today``: the window opened three days ago and closes in
    two weeks; results a few days later, offers answered within a week after that; the season
    starts on the first Monday at least two weeks after the window closes and lasts 15 weeks."""
    closing_day = today + timedelta(days=14)
    season_start = closing_day + timedelta(days=14)
    season_start += timedelta(days=-season_start.weekday() % 7)
    return {
        "opens_at": datetime.combine(today - timedelta(days=3), time(8, 0), OSLO),
        "closes_at": datetime.combine(closing_day, time(23, 59), OSLO),
        "publish_on": closing_day + timedelta(days=5),
        "offer_deadline": datetime.combine(closing_day + timedelta(days=12), time(23, 59), OSLO),
        "season_start": season_start,
        "season_end": season_start + timedelta(weeks=15, days=-1),
    }


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _application_round(buildings: dict, organizations: dict, users: dict) -> None:
    """A round open for applications (created after the rehearsals, which the admin books in any
    case), with applications of four organisations made by their members."""
    from booking.services.rounds import create_round, submit_application

    dates = round_dates(datetime.now(OSLO).date())
    term = "vår" if dates["season_start"].month <= 6 else "høst"
    rooms = {room.name: room for room in buildings["Hauger skole"].rooms if room.name in ROUND_ROOMS}
    round_ = create_round(
        ADMIN,
        dict(
            dates,
            name=f"Sesongtildeling {term} {dates['season_start'].year}",
            room_ids=[rooms[name].id for name in ROUND_ROOMS],
        ),
    )
    for email, org, children_youth, attendees, description, wishes in APPLICATIONS:
        organization = organizations[org]
        member = Actor(user_id=users[email].id, role="member", organization_ids=frozenset({organization.id}))
        submit_application(
            member,
            round_.id,
            {
                "organization_id": organization.id,
                "attendees": attendees,
                "description": description,
                "children_youth": children_youth,
                "wishes": [
                    {
                        "room_id": rooms[room].id,
                        "weekday": weekday,
                        "start": _minutes(start),
                        "end": _minutes(end),
                    }
                    for room, weekday, start, end in wishes
                ],
            },
        )


KORPS, DANS, INNEBANDY, KONSULENT, SJAKK = (org[0] for org in ORGANIZATIONS)

# The week from the day the demo is loaded: (days from today as digits, room, organisation, time,
# title, attendees, notes). The organisation's member books the rooms that need no approval (and
# gets them at once); the municipality books the confirmed times in the halls that need approval.
# fmt: off
WEEK = [
    # Bekkestua kulturhus
    ("024", "Møterom Kaffekroken", DANS, "09:30-11:30", "Styremøte", 8, "Kaffe og kopper fram, takk."),
    ("13", "Møterom Kaffekroken", KONSULENT, "12:00-14:00", "Lunsjmøte", 14, "Prosjektor med HDMI."),
    ("0123456", "Øvingsrom 1", KORPS, "17:00-19:00", "Aspirantkorps", 18, "20 stoler, takk."),
    ("035", "Øvingsrom 2", KORPS, "18:00-20:30", "Slagverkøving", 6, "Trommesettet blir stående."),
    ("14", "Verkstedet", DANS, "13:00-15:00", "Kostymesying", 5, ""),
    ("0", "Storsalen", DANS, "11:00-13:00", "Dansekurs", 40, "Høyttaleranlegget trengs."),
    ("5", "Storsalen", KORPS, "11:00-15:00", "Loppemarked", 150, "Bord langs veggene."),
    # Hauger skole
    ("0123456", "Gymsal A", INNEBANDY, "17:00-18:30", "Innebandy G12", 16, ""),
    ("024", "Gymsal B", INNEBANDY, "17:00-18:30", "Innebandy J10", 14, "Vantene ligger i boden."),
    ("13", "Gymsal hele", INNEBANDY, "19:00-21:00", "Innebandy senior", 22, "Vant rundt hele salen."),
    ("024", "Musikkrommet", KORPS, "18:00-20:00", "Juniorkorps", 25, ""),
    ("13", "Klasserom 101", KONSULENT, "09:00-15:00", "Kurs i ledelse", 20, "Tavla vasket, takk."),
    ("2", "Klasserom 102", KORPS, "18:00-19:30", "Foreldremøte", 30, ""),
    # Rykkinnhallen
    ("01234", "Hallflate", INNEBANDY, "17:00-19:00", "Innebandytrening", 24, "Mål ut og inn."),
    ("5", "Hallflate", INNEBANDY, "10:00-12:00", "Kamp G12", 60, "Sekretariatsbord ved midtlinjen."),
    ("013", "Klubbrommet", INNEBANDY, "19:00-21:00", "Styremøte", 8, ""),
    ("2", "Styrerommet", KONSULENT, "16:00-20:00", "Strategimøte", 9, "Mat leveres 16:00."),
    ("6", "Styrerommet", DANS, "12:00-14:00", "Årsmøte", 10, "Stoler til 10."),
]

# Requests waiting for the municipality: (days from today, room, organisation, time, title,
# attendees, notes). Storsalen on the third day is wanted twice (the korps and the consultancy) and
# Rykkinnhallen's floor on the sixth day three times; the chess club is not verified yet, so even
# a room without approval is a request for it.
REQUESTS = [
    (2, "Storsalen", KONSULENT, "17:00-21:00", "Fagseminar", 120, "Prosjektor og to trådløse mikrofoner."),
    (2, "Storsalen", KORPS, "18:00-20:00", "Konsert for foreldre", 200, "Kakesalg i foajeen."),
    (3, "Storsalen", DANS, "18:00-22:00", "Dansegalla", 150, "Dansegulvet må vaskes før vi kommer."),
    (5, "Hallflate", INNEBANDY, "13:00-17:00", "Innebandyturnering", 120, "Fire baner med vant."),
    (5, "Hallflate", KONSULENT, "14:00-18:00", "Bedriftsidrettsdag", 80, ""),
    (5, "Hallflate", DANS, "15:00-18:00", "Dansefest", 100, "Lydanlegg og plass til 100."),
    (4, "Klubbrommet", SJAKK, "18:00-21:00", "Sjakkturnering", 16, "Åtte bord og stille rom, takk."),
]
# fmt: on


def _closed(building: Building, day: date) -> bool:
    return any(closure.start_date <= day <= closure.end_date for closure in building.closures)


def _week_of_bookings(buildings: dict, organizations: dict, users: dict, today: date) -> None:
    """Bookings from ``today`` through the next six days in every building (none on its closed
    days), and the requests of ``REQUESTS`` (on the first open day from theirs), made by the
    organisations' members. All are made as
    of midnight, so today's day sheet is full even when the demo is loaded in the evening."""
    from booking.services.auth import actor_for
    from booking.services.bookings import BookingRequest, create_booking

    now = datetime.combine(today, time(0, 0), OSLO)
    members = {name: users[email] for email, _, _, names, _ in USERS for name in names}
    rooms = {room.name: room for building in buildings.values() for room in building.rooms}

    def book(offset, room_name, org, hours, title, attendees, notes, *, request) -> None:
        day = today + timedelta(days=offset)
        room = rooms[room_name]
        while request and _closed(room.building, day):
            day += timedelta(days=1)  # a request asks for the first open day: competitors stay
        if _closed(room.building, day):
            return  # the week's bookings leave out a closed day
        start, end = (datetime.combine(day, time.fromisoformat(t), OSLO) for t in hours.split("-"))
        # A hall that needs approval is booked by the municipality unless it is a request.
        actor = ADMIN if room.requires_approval and not request else actor_for(members[org])
        data = {
            "room_id": room.id,
            "organization_id": organizations[org].id,
            "title": title,
            "start": start,
            "end": end,
            "attendees": min(attendees, room.capacity),
            "notes": notes,
            "public_title": True,
        }
        create_booking(actor, BookingRequest.from_input(data), now=now)

    for days, room, org, hours, title, attendees, notes in WEEK:
        for offset in map(int, days):
            book(offset, room, org, hours, title, attendees, notes, request=False)
    for offset, room, org, hours, title, attendees, notes in REQUESTS:
        book(offset, room, org, hours, title, attendees, notes, request=True)
