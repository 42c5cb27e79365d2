"""Monthly invoices: JSON and CSV line by line, the month boundaries in local time, fees by
cancellation date, permissions and bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from booking.services.invoices import nok
from pricing import OSLO
from tests.integration.test_api_foundation import assert_problem
from tests.integration.test_pricing_api import at, book, full_org, hours_from_now, line, plain_weekday, today

CSV_HEADER = (
    "organization;org_number;booking_id;date;description;quantity;unit;unit_price_nok;amount_nok;tax_code"
)


def first_of_month(day: date, months_ahead: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months_ahead
    return date(index // 12, index % 12 + 1, 1)


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def invoice_line(booking: dict, item: dict, on: date, where: str, kind: str = "booking") -> dict:
    return dict(
        item,
        description=f"{item['description']}: {where}",
        booking_id=booking["id"],
        date=on.isoformat(),
        kind=kind,
    )


@pytest.fixture
def month_data(client, make):
    """Bookings around a month M that starts 10 days or more from now."""
    month = first_of_month(today() + timedelta(days=40))
    next_month = first_of_month(month, 1)
    building = make.building()
    room = make.room(building, kind="meeting_room", name="Møterom Ærlig")
    alpha = full_org(make, name="Alpha Korps")
    beta = make.organization(name="Beta Dans")  # reduced
    gamma = make.organization(
        name="Gamma Ungdom", registered_in_frivillighetsregisteret=True, youth_activity=True
    )  # free
    admin = make.admin()
    alpha_member = make.member(alpha)
    first_wed = plain_weekday(month)
    second_wed = plain_weekday(first_wed + timedelta(days=1))
    data = {
        "month": month,
        "room": room,
        "alpha": alpha,
        "beta": beta,
        "admin": admin,
        "first_wed": first_wed,
        "second_wed": second_wed,
        # Alpha (full): 18:00–20:00 = 4 half hours × 100 NOK, unstaffed: 2 hours × 300 NOK.
        "a1": book(client, alpha_member, room, alpha, at(first_wed, "18:00"), at(first_wed, "20:00")),
        # Alpha: 10:00–11:00, staffed: 2 half hours × 100 NOK.
        "a2": book(client, alpha_member, room, alpha, at(second_wed, "10:00"), at(second_wed, "11:00")),
        # Alpha, cancelled more than 14 days ahead: no fee, not invoiced.
        "a3": book(client, alpha_member, room, alpha, at(first_wed, "12:00"), at(first_wed, "13:00")),
        # Beta: 00:30 local on the 1st is still the previous month in UTC, but belongs to M.
        "b1": book(client, admin, room, beta, at(month, "00:30"), at(month, "01:30")),
        # Beta: 00:30 on the 1st of the next month: not in M.
        "b2": book(client, admin, room, beta, at(next_month, "00:30"), at(next_month, "01:30")),
        # Gamma (free) in staffed hours: rent lines of 0 NOK only, nothing to bill.
        "g1": book(client, admin, room, gamma, at(first_wed, "09:00"), at(first_wed, "10:00")),
    }
    cancelled = client.post(
        f"/api/v1/bookings/{data['a3']['id']}/cancel", json={}, headers=alpha_member.headers
    )
    assert cancelled.get_json()["cancellation_fee"]["total_ore"] == 0
    return data


def expected_month(d: dict) -> dict:
    where = "Møterom Ærlig, {} {}–{}"
    alpha_lines = [
        invoice_line(
            d["a1"],
            line("rent_weekday", "Leie, hverdag", 4, "half_hour", 10_000),
            d["first_wed"],
            where.format(d["first_wed"], "18:00", "20:00"),
        ),
        invoice_line(
            d["a1"],
            line("supervision_weekday", "Tilsyn, hverdag", 2, "hour", 30_000),
            d["first_wed"],
            where.format(d["first_wed"], "18:00", "20:00"),
        ),
        invoice_line(
            d["a2"],
            line("rent_weekday", "Leie, hverdag", 2, "half_hour", 10_000),
            d["second_wed"],
            where.format(d["second_wed"], "10:00", "11:00"),
        ),
    ]
    # Beta's 1st of the month may be a weekend or a holiday: its lines are its snapshot's.
    beta_lines = [
        invoice_line(d["b1"], item, d["month"], where.format(d["month"], "00:30", "01:30"))
        for item in d["b1"]["quote"]["lines"]
    ]
    assert [item["code"] for item in beta_lines][-1].startswith("supervision_")  # unstaffed at night
    invoices = [
        {
            "organization_id": d["alpha"].id,
            "organization_name": "Alpha Korps",
            "org_number": d["alpha"].org_number,
            "lines": alpha_lines,
            "total_ore": 40_000 + 60_000 + 20_000,
        },
        {
            "organization_id": d["beta"].id,
            "organization_name": "Beta Dans",
            "org_number": d["beta"].org_number,
            "lines": beta_lines,
            "total_ore": d["b1"]["quote"]["total_ore"],
        },
    ]
    return {
        "month": month_of(d["month"]),
        "currency": "NOK",
        "invoices": invoices,
        "total_ore": 120_000 + d["b1"]["quote"]["total_ore"],
    }


def test_invoice_json_has_the_months_bookings_per_organisation(client, month_data):
    response = client.get(
        f"/api/v1/invoices?month={month_of(month_data['month'])}", headers=month_data["admin"].headers
    )
    assert response.status_code == 200 and response.content_type == "application/json"
    body = response.get_json()
    expected = expected_month(month_data)
    assert body["month"] == expected["month"] and body["total_ore"] == expected["total_ore"]
    assert [i["organization_name"] for i in body["invoices"]] == ["Alpha Korps", "Beta Dans"]
    for got, want in zip(body["invoices"], expected["invoices"], strict=True):
        for got_line, want_line in zip(got["lines"], want["lines"], strict=True):
            assert got_line == want_line
        assert got == want
    assert body == expected


def test_invoice_csv_has_one_row_per_line(client, month_data):
    month = month_of(month_data["month"])
    response = client.get(
        f"/api/v1/invoices?month={month}", headers={**month_data["admin"].headers, "Accept": "text/csv"}
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert not response.data.startswith(b"\xef\xbb\xbf")  # no byte order mark
    text = response.data.decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    rows = text.split("\r\n")[:-1]
    alpha, a1, a2 = month_data["alpha"], month_data["a1"]["id"], month_data["a2"]["id"]
    first, second = month_data["first_wed"], month_data["second_wed"]
    assert rows[0] == CSV_HEADER
    assert rows[1:4] == [
        f"Alpha Korps;{alpha.org_number};{a1};{first};Leie, hverdag: Møterom Ærlig, {first} 18:00–20:00;"
        "4;half_hour;100.00;400.00;0",
        f"Alpha Korps;{alpha.org_number};{a1};{first};Tilsyn, hverdag: Møterom Ærlig, {first} 18:00–20:00;"
        "2;hour;300.00;600.00;0",
        f"Alpha Korps;{alpha.org_number};{a2};{second};Leie, hverdag: Møterom Ærlig, {second} 10:00–11:00;"
        "2;half_hour;100.00;200.00;0",
    ]
    beta, b1 = month_data["beta"], month_data["b1"]
    assert rows[4:] == [
        f"Beta Dans;{beta.org_number};{b1['id']};{month_data['month']};{item['description']}: Møterom Ærlig, "
        f"{month_data['month']} 00:30–01:30;{item['quantity']};{item['unit']};{nok(item['unit_price_ore'])};"
        f"{nok(item['amount_ore'])};0"
        for item in b1["quote"]["lines"]
    ]
    # The same content as the JSON, row for row.
    body = client.get(f"/api/v1/invoices?month={month}", headers=month_data["admin"].headers).get_json()
    assert len(rows) - 1 == sum(len(i["lines"]) for i in body["invoices"])


def test_amounts_are_nok_with_two_decimals_and_a_point():
    assert [nok(n) for n in (0, 5, 50, 125_000, 100_000_001, -2_550)] == [
        "0.00",
        "0.05",
        "0.50",
        "1250.00",
        "1000000.01",
        "-25.50",
    ]


def test_csv_quotes_separators_and_defuses_formulas(client, make):
    room = make.room(kind="meeting_room", name="Sal; stor")
    organization = full_org(make, name='=HYPERLINK("x")')
    admin = make.admin()
    day = plain_weekday(first_of_month(today() + timedelta(days=40)))
    booking = book(client, admin, room, organization, at(day, "10:00"), at(day, "11:00"))
    text = client.get(
        f"/api/v1/invoices?month={month_of(day)}", headers={**admin.headers, "Accept": "text/csv"}
    ).get_data(as_text=True)
    assert text.split("\r\n")[1] == (
        f'"\'=HYPERLINK(""x"")";{organization.org_number};{booking["id"]};{day};'
        f'"Leie, hverdag: Sal; stor, {day} 10:00–11:00";2;half_hour;100.00;200.00;0'
    )


def test_a_fee_is_invoiced_in_the_month_of_the_cancellation(client, make):
    room = make.room(kind="meeting_room", supervision="always")
    organization = full_org(make)
    member, admin = make.member(organization), make.admin()
    start = hours_from_now(4 * 24)  # under 7 days: the full rent
    booking = book(client, member, room, organization, start, start + timedelta(hours=2))
    admin_cancelled = book(
        client, member, room, organization, start + timedelta(hours=3), start + timedelta(hours=4)
    )
    fee = client.post(f"/api/v1/bookings/{booking['id']}/cancel", json={}, headers=member.headers).get_json()
    client.post(f"/api/v1/bookings/{admin_cancelled['id']}/cancel", json={}, headers=admin.headers)
    rent = fee["cancellation_fee"]["total_ore"]
    assert rent == sum(i["amount_ore"] for i in booking["quote"]["lines"] if i["code"].startswith("rent_"))

    cancelled_on = datetime.fromisoformat(fee["cancelled_at"]).astimezone(OSLO).date()
    body = client.get(f"/api/v1/invoices?month={month_of(cancelled_on)}", headers=admin.headers).get_json()
    [invoice] = body["invoices"]
    local_start, local_end = start.astimezone(OSLO), (start + timedelta(hours=2)).astimezone(OSLO)
    until = f"{local_end:%H:%M}" if local_end.date() == local_start.date() else f"{local_end:%Y-%m-%d %H:%M}"
    assert invoice["lines"] == [
        invoice_line(
            booking,
            line("cancellation_rent", "Avbestilling under 7 dager før, full leie", 1, "booking", rent),
            cancelled_on,
            f"{room.name}, {local_start:%Y-%m-%d %H:%M}–{until}",
            "cancellation",
        )
    ]
    assert invoice["total_ore"] == body["total_ore"] == rent

    start_month = month_of(local_start.date())
    if start_month != month_of(cancelled_on):  # the booking itself is invoiced nowhere
        assert (
            client.get(f"/api/v1/invoices?month={start_month}", headers=admin.headers).get_json()["invoices"]
            == []
        )


def test_a_month_without_anything_to_bill(client, make):
    admin = make.admin()
    body = client.get("/api/v1/invoices?month=2030-02", headers=admin.headers).get_json()
    assert body == {"month": "2030-02", "currency": "NOK", "invoices": [], "total_ore": 0}
    csv = client.get("/api/v1/invoices?month=2030-02", headers={**admin.headers, "Accept": "text/csv"})
    assert csv.get_data(as_text=True) == CSV_HEADER + "\r\n"
    # JSON by default, also for a client that takes anything.
    assert (
        client.get("/api/v1/invoices?month=2030-02", headers={**admin.headers, "Accept": "*/*"}).content_type
        == "application/json"
    )


def test_only_admins_read_invoices(client, make):
    building = make.building()
    assert_problem(client.get("/api/v1/invoices?month=2027-01"), 401)
    assert_problem(client.get("/api/v1/invoices?month=bad"), 401)
    assert_problem(client.get("/api/v1/invoices?month=2027-01", headers=make.member().headers), 403)
    assert_problem(client.get("/api/v1/invoices?month=2027-01", headers=make.janitor(building).headers), 403)
    assert_problem(
        client.get("/api/v1/invoices?month=2027-01", headers={**make.member().headers, "Accept": "text/csv"}),
        403,
    )


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?month=",
        "?month=2027-13",
        "?month=2027-00",
        "?month=2027-1",
        "?month=27-01",
        "?month=2027-01-05",
        "?month=januar",
        "?month=1999-12",
    ],
)
def test_a_bad_month_is_422(client, make, query):
    body = assert_problem(client.get(f"/api/v1/invoices{query}", headers=make.admin().headers), 422)
    assert list(body["errors"]) == ["month"]


def test_invoices_are_built_in_a_fixed_number_of_queries(client, make, month_data):
    from sqlalchemy import event

    from booking.extensions import db

    statements = []

    def count(*args):
        statements.append(args[2])

    url = f"/api/v1/invoices?month={month_of(month_data['month'])}"
    headers = month_data["admin"].headers
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        client.get(url, headers=headers)
        few = len(statements)
        start = datetime.combine(month_data["second_wed"], datetime.min.time(), OSLO).astimezone(UTC)
        for hour in (12, 13, 14):
            book(
                client,
                month_data["admin"],
                month_data["room"],
                make.organization(),
                (start + timedelta(hours=hour)).isoformat(),
                (start + timedelta(hours=hour, minutes=30)).isoformat(),
            )
        statements.clear()
        client.get(url, headers=headers)
        assert len(statements) == few
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
