"""The support report (SPEC §15): a worked example with figures computed by hand, through the
API (JSON and CSV) and the admin's page; who may see it; bad periods; a bounded query count."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking.extensions import db
from booking.models import Booking
from booking.services.auth import actor_for
from booking.services.bookings import cancel_booking
from tests.integration.test_api_foundation import assert_problem
from tests.integration.test_pricing_api import at, book, full_org, plain_weekday, today
from tests.integration.test_query_counts import statements
from tests.integration.web_helpers import log_in, text

CSV_HEADER = (
    "category;organization;org_number;bookings;cancelled_with_fee;hours;charged_nok;full_price_nok;"
    "support_nok;supervision_charged_nok;supervision_covered_nok"
)


@pytest.fixture
def example(client, make):
    """A meeting room (reduced 50 NOK/h, full 200 NOK/h: 25 and 100 NOK a half hour) staffed
    Mon–Fri 08:00–16:00; the period is the week from a plain Wednesday W."""
    building = make.building()
    room = make.room(building, kind="meeting_room")
    free = make.organization(
        name="Fri Ungdom", registered_in_frivillighetsregisteret=True, youth_activity=True
    )
    reduced = make.organization(name="=Redusert Kor")  # voluntary and local; a formula-like name
    full = full_org(make, name="Aksje AS")
    admin = make.admin()
    reduced_member = make.member(reduced)
    day = plain_weekday(today() + timedelta(days=30))
    d = {"day": day, "admin": admin, "free": free, "reduced": reduced, "full": full}
    # Free, staffed 14:00–16:00: charged 0; at full 4 × 100 = 400 NOK.
    d["f1"] = book(client, admin, room, free, at(day, "14:00"), at(day, "16:00"))
    # Free, unstaffed 16:30–18:30: supervision 2 h × 300 = 600 NOK charged (every category pays
    # it); at full 400 NOK rent + 600 NOK supervision.
    d["f2"] = book(client, admin, room, free, at(day, "16:30"), at(day, "18:30"))
    # Reduced, staffed 10:00–11:30: 3 × 25 = 75 NOK; at full 3 × 100 = 300 NOK.
    d["r1"] = book(client, admin, room, reduced, at(day, "10:00"), at(day, "11:30"))
    # Reduced, 12:00–13:00, cancelled by the member 3 days before: the full rent of 2 × 25 = 50 NOK;
    # at full it would have cost 2 × 100 = 200 NOK. No hours.
    d["r2"] = book(client, admin, room, reduced, at(day, "12:00"), at(day, "13:00"))
    # Reduced, cancelled now, 30 days or more ahead: free whatever the category, not counted.
    d["r3"] = book(client, admin, room, reduced, at(day, "13:00"), at(day, "14:00"))
    # Full, staffed 08:00–09:00: 2 × 100 = 200 NOK, which is its full price: no support.
    d["u1"] = book(client, admin, room, full, at(day, "08:00"), at(day, "09:00"))
    # Outside the period: a week later.
    d["out"] = book(
        client,
        admin,
        room,
        reduced,
        at(day + timedelta(days=7), "10:00"),
        at(day + timedelta(days=7), "11:00"),
    )
    member = actor_for(reduced_member.user)
    start = db.session.get(Booking, d["r2"]["id"]).start
    _, fee = cancel_booking(member, d["r2"]["id"], now=start - timedelta(days=3))
    assert (fee.rule, fee.total_ore) == ("full_rent", 5_000)
    _, fee = cancel_booking(member, d["r3"]["id"])
    assert fee.rule == "free_14_days"
    db.session.commit()
    d["from"], d["to"] = day.isoformat(), (day + timedelta(days=6)).isoformat()
    return d


def figures(bookings, cancelled, minutes, hours, charged, full, supervision_charged, covered=0) -> dict:
    return {
        "bookings": bookings,
        "cancelled_with_fee": cancelled,
        "minutes": minutes,
        "hours": hours,
        "charged_ore": charged,
        "full_price_ore": full,
        "support_ore": full - charged,
        "supervision_charged_ore": supervision_charged,
        "supervision_covered_ore": covered,
    }


def org(o, **values) -> dict:
    return {"organization_id": o.id, "organization_name": o.name, "org_number": o.org_number, **values}


def test_worked_example_in_json(client, example):
    d = example
    response = client.get(
        f"/api/v1/reports/support?from={d['from']}&to={d['to']}", headers=d["admin"].headers
    )
    assert response.status_code == 200, response.get_json()
    free = figures(2, 0, 240, "4.00", 60_000, 140_000, 60_000)
    reduced = figures(1, 1, 90, "1.50", 12_500, 50_000, 0)
    full = figures(1, 0, 60, "1.00", 20_000, 20_000, 0)
    assert response.get_json() == {
        "from": d["from"],
        "to": d["to"],
        "currency": "NOK",
        "categories": [
            {"category": "free", "organizations": [org(d["free"], **free)], "total": free},
            {"category": "reduced", "organizations": [org(d["reduced"], **reduced)], "total": reduced},
            {"category": "full", "organizations": [org(d["full"], **full)], "total": full},
        ],
        "total": figures(4, 1, 390, "6.50", 92_500, 210_000, 60_000),
    }
    assert response.headers["Vary"] == "Accept"


def test_worked_example_in_csv(client, example):
    d = example
    response = client.get(
        f"/api/v1/reports/support?from={d['from']}&to={d['to']}",
        headers={**d["admin"].headers, "Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = response.get_data(as_text=True).split("\r\n")
    assert rows == [
        CSV_HEADER,
        f"free;Fri Ungdom;{d['free'].org_number};2;0;4.00;600.00;1400.00;800.00;600.00;0.00",
        "free;;;2;0;4.00;600.00;1400.00;800.00;600.00;0.00",
        # A name that starts like a formula is kept as text.
        f"reduced;'=Redusert Kor;{d['reduced'].org_number};1;1;1.50;125.00;500.00;375.00;0.00;0.00",
        "reduced;;;1;1;1.50;125.00;500.00;375.00;0.00;0.00",
        f"full;Aksje AS;{d['full'].org_number};1;0;1.00;200.00;200.00;0.00;0.00;0.00",
        "full;;;1;0;1.00;200.00;200.00;0.00;0.00;0.00",
        "total;;;4;1;6.50;925.00;2100.00;1175.00;600.00;0.00",
        "",
    ]


def test_a_day_before_the_period_and_an_empty_period(client, example):
    d = example
    # The period ends the day before W: nothing, but every category is listed at zero.
    day_before = (d["day"] - timedelta(days=1)).isoformat()
    response = client.get(
        f"/api/v1/reports/support?from={day_before}&to={day_before}", headers=d["admin"].headers
    )
    body = response.get_json()
    assert [c["category"] for c in body["categories"]] == ["free", "reduced", "full"]
    assert all(c["organizations"] == [] for c in body["categories"])
    assert body["total"] == figures(0, 0, 0, "0.00", 0, 0, 0)
    # Only the week after: the booking left outside the example.
    week_after = d["day"] + timedelta(days=7)
    response = client.get(
        f"/api/v1/reports/support?from={week_after.isoformat()}&to={week_after.isoformat()}",
        headers=d["admin"].headers,
    )
    assert response.get_json()["total"] == figures(1, 0, 60, "1.00", 5_000, 20_000, 0)


def test_weekend_rates_and_an_own_supervisor(client, make):
    """Saturday 10:00–12:00 in an unstaffed meeting room for a reduced organisation: rent 4 half
    hours at 25 × 1.5 = 37.50 NOK = 150 NOK, at full 4 × 150 = 600 NOK; supervision 2 h × 450 NOK
    = 900 NOK on both sides. The same on Sunday with its own supervisor: no supervision at all."""
    room = make.room(make.building(), kind="meeting_room")
    reduced = make.organization(name="Helgelaget")
    admin = make.admin()
    saturday = plain_weekday(today() + timedelta(days=30), weekday=5)  # a holiday costs the same
    sunday = saturday + timedelta(days=1)
    book(client, admin, room, reduced, at(saturday, "10:00"), at(saturday, "12:00"))
    book(client, admin, room, reduced, at(sunday, "10:00"), at(sunday, "12:00"), own_supervisor=True)
    response = client.get(
        f"/api/v1/reports/support?from={saturday.isoformat()}&to={sunday.isoformat()}",
        headers=admin.headers,
    )
    body = response.get_json()
    expected = figures(2, 0, 240, "4.00", 15_000 + 90_000 + 15_000, 60_000 + 90_000 + 60_000, 90_000)
    assert body["categories"][1]["organizations"] == [org(reduced, **expected)]
    assert body["total"]["support_ore"] == 90_000


def test_the_page_shows_table_chart_and_csv_link(client, example):
    d = example
    log_in(client, d["admin"].user)
    response = client.get(f"/admin/support?from={d['from']}&to={d['to']}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = text(response)
    assert "Støtterapport" in page
    assert "Fri Ungdom" in page and "=Redusert Kor" in page and "Aksje AS" in page
    # Grand total row: bookings, cancelled, hours, charged, full price, support, supervision.
    assert "Sum 4 1 6,5 kr 925,00 kr 2 100,00 kr 1 175,00 kr 0,00" in page
    assert '<th scope="rowgroup"' in html and "<tfoot>" in html
    assert '<svg class="bar-chart" role="img"' in html
    assert "kr 800,00" in page  # the free category's support, in the table and the chart's title
    csv_link = f"/admin/support.csv?from={d['from']}&amp;to={d['to']}"
    assert csv_link in html and "Last ned CSV" in page
    download = client.get(csv_link.replace("&amp;", "&"))
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.get_data(as_text=True).split("\r\n")[-2] == (
        "total;;;4;1;6.50;925.00;2100.00;1175.00;600.00;0.00"
    )


def test_the_page_without_a_period_shows_this_year(client, make):
    admin = make.admin()
    log_in(client, admin.user)
    response = client.get("/admin/support")
    assert response.status_code == 200
    year = today().year
    assert f'value="{year}-01-01"' in response.get_data(as_text=True)
    assert "Ingen bookinger i denne kategorien." in text(response)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-05-10&to=2026-05-01", "Slutten av perioden kan ikke være før starten."),
        ("from=2026-01-01&to=2027-01-02", "En periode kan være høyst 366 dager."),
        ("from=10.05.2026&to=2026-05-20", "Skriv datoen som ÅÅÅÅ-MM-DD."),
    ],
)
def test_the_page_answers_a_bad_period_with_the_form(client, make, query, message):
    log_in(client, make.admin().user)
    for path in ("/admin/support", "/admin/support.csv"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 422
        assert message in text(response)
        assert response.mimetype == "text/html"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-05-10&to=2026-05-01", "to"),
        ("from=2026-01-01&to=2027-01-02", "to"),
        ("from=2026-13-01&to=2026-12-31", "from"),
        ("from=1999-01-01&to=1999-01-02", "from"),
        ("to=2026-12-31", "from"),
        ("from=2026-01-01", "to"),
    ],
)
def test_the_api_answers_a_bad_period_with_422(client, make, query, field):
    admin = make.admin()
    response = client.get(f"/api/v1/reports/support?{query}", headers=admin.headers)
    body = assert_problem(response, 422)
    assert field in body["errors"]


def test_only_admins_see_the_report(client, make):
    organization = make.organization()
    member = make.member(organization)
    janitor = make.janitor(make.building())
    query = "from=2026-01-01&to=2026-01-31"
    assert_problem(client.get(f"/api/v1/reports/support?{query}"), 401)
    for login in (member, janitor):
        assert_problem(client.get(f"/api/v1/reports/support?{query}", headers=login.headers), 403)
    for path in ("/admin/support", "/admin/support.csv"):
        anonymous = client.application.test_client().get(f"{path}?{query}")
        assert anonymous.status_code == 303 and "/login" in anonymous.headers["Location"]
        for login in (member, janitor):
            logged_in = client.application.test_client()
            log_in(logged_in, login.user)
            assert logged_in.get(f"{path}?{query}").status_code == 403


def test_the_report_sends_a_fixed_number_of_statements(client, make, example):
    d = example
    url = f"/api/v1/reports/support?from={d['from']}&to={d['to']}"
    with statements() as few:
        client.get(url, headers=d["admin"].headers)
    thursday = d["day"] + timedelta(days=1)
    others = [make.organization() for _ in range(3)]
    for _ in range(4):
        room = make.room(make.building(), kind="gym")
        for hour, organization in enumerate((d["free"], d["reduced"], *others), start=8):
            book(
                client,
                d["admin"],
                room,
                organization,
                at(thursday, f"{hour:02d}:00"),
                at(thursday, f"{hour:02d}:30"),
            )
    with statements() as many:
        response = client.get(url, headers=d["admin"].headers)
    assert response.get_json()["total"]["bookings"] == 4 + 4 * 5
    assert len(many) == len(few)
