"""The back office for people and money (SPEC §15): users and their memberships, the audit log
with before and after side by side, and the month's invoices with a CSV download. Admins only;
bad input is a 4xx page with the form again, never a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from booking.extensions import db
from booking.models import ApiToken, AuditEntry, User, janitor_buildings, memberships
from booking.services.invoices import invoices_csv, monthly_invoices
from booking.web.staff_people import AUDIT_PER_PAGE
from tests.integration.factories import ADMIN
from tests.integration.test_pricing_api import at, book, full_org, plain_weekday, today
from tests.integration.web_helpers import log_in, post, text

PAGES = ("/admin/users", "/admin/audit", "/admin/invoices", "/admin/invoices.csv")


@pytest.fixture
def admin(client, make):
    login = make.admin()
    log_in(client, login.user)
    return login


def entries(**where) -> list[AuditEntry]:
    db.session.expire_all()
    query = select(AuditEntry).order_by(AuditEntry.id)
    for key, value in where.items():
        query = query.where(getattr(AuditEntry, key) == value)
    return list(db.session.scalars(query))


def rows(table, user_id: int) -> list[dict]:
    db.session.commit()  # a fresh snapshot
    return [dict(r) for r in db.session.execute(select(table).where(table.c.user_id == user_id)).mappings()]


# --- who may -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_only_admins_see_the_pages(client, make, path):
    anonymous = client.get(path)
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["Location"]
    member = make.member()
    log_in(client, member.user)
    assert client.get(path).status_code == 403
    janitor = make.janitor(make.building())
    log_in(client, janitor.user)
    assert client.get(path).status_code == 403


def test_a_member_cannot_create_users_or_deactivate_anyone(client, make):
    member = make.member()
    victim = make.member()
    log_in(client, member.user)
    assert (
        post(client, "/admin/users", {"name": "X", "email": "x@example.test", "role": "admin"}).status_code
        == 403
    )
    assert post(client, f"/admin/users/{victim.user.id}/deactivate").status_code == 403
    db.session.commit()
    assert db.session.scalar(select(User.id).where(User.email == "x@example.test")) is None
    assert db.session.get(User, victim.user.id, populate_existing=True).active


# --- users -------------------------------------------------------------------------------------


def test_the_list_shows_users_and_filters_by_role_and_text(client, make, admin):
    organization = make.organization(name="Lysaker Kor")
    make.user("member", organizations=[organization], name="Kari Medlem", email="kari@example.test")
    make.user("janitor", buildings=[make.building(name="Haslum skole")], name="Per Vaktmester")
    page = client.get("/admin/users")
    assert page.status_code == 200
    shown = text(page)
    assert "Brukere" in shown and "Kari Medlem" in shown and "Lysaker Kor" in shown
    assert "Per Vaktmester" in shown and "Haslum skole" in shown and "vaktmester" in shown
    janitors = text(client.get("/admin/users?filter_role=janitor"))
    assert "Per Vaktmester" in janitors and "Kari Medlem" not in janitors
    found = text(client.get("/admin/users?q=KARI@"))
    assert "Kari Medlem" in found and "Per Vaktmester" not in found
    assert "Per Vaktmester" not in text(client.get("/admin/users?q=%25"))  # a LIKE wildcard is a letter


@pytest.mark.parametrize("query", ["page=0", "page=abc", "page=99999999999999999999999", "page=%F0%9F%98%80"])
def test_hostile_page_numbers_are_a_422_not_a_500(client, admin, query):
    page = client.get(f"/admin/users?{query}")
    assert page.status_code == 422 and "Brukere" in text(page)


def test_an_admin_creates_a_member_of_an_organisation(client, make, admin):
    organization = make.organization(name="Bærum Sjakklubb")
    answer = post(
        client,
        "/admin/users",
        {
            "name": "Ola Nordmann",
            "email": "Ola@Example.test",
            "role": "member",
            "organization_id": str(organization.id),
            "password": "",
        },
    )
    assert answer.status_code == 303
    db.session.commit()
    user = db.session.scalar(select(User).where(User.email == "ola@example.test"))
    assert user is not None and user.role == "member" and user.password_hash is None
    assert user.email_confirmed_at is not None  # an admin vouches for the address
    assert answer.headers["Location"].endswith(f"/admin/users/{user.id}")
    assert [o.name for o in user.organizations] == ["Bærum Sjakklubb"]
    [entry] = entries(entity="users", entity_id=str(user.id))
    assert (entry.action, entry.actor_user_id) == ("insert", admin.user.id)
    page = client.get(answer.headers["Location"])
    assert "Opprettet brukeren Ola Nordmann" in text(page) and "Bærum Sjakklubb" in text(page)


@pytest.mark.parametrize(
    ("form", "field_message"),
    [
        ({}, "Fyll ut dette feltet."),
        ({"name": "A", "email": "not-an-address", "role": "member"}, "Skriv en gyldig e-postadresse."),
        ({"name": "A", "email": "a@example.test", "role": "boss"}, "Velg en rolle."),
        ({"name": "A", "email": "a@example.test", "role": "member", "password": "short"}, "minst 10 tegn"),
        ({"name": "A" * 201, "email": "a@example.test", "role": "member"}, "Høyst 200 tegn."),
        (
            {"name": "A", "email": "a@example.test", "role": "member", "organization_id": "99999"},
            "Velg en fra listen.",
        ),
        ({"name": "A", "email": "a@example.test", "role": "member", "organization_id": "1e9"}, "helt tall"),
        ({"name": "A", "email": "a@example.test", "role": "admin", "building_id": "BUILDING"}, "vaktmestere"),
    ],
)
def test_a_bad_new_user_is_a_422_with_the_form_again(client, make, admin, form, field_message):
    building = make.building()
    form = {k: (str(building.id) if v == "BUILDING" else v) for k, v in form.items()}
    page = post(client, "/admin/users", form)
    assert page.status_code == 422
    assert field_message in text(page)
    assert 'aria-invalid="true"' in page.get_data(as_text=True)
    db.session.commit()
    assert db.session.scalar(select(User.id).where(User.email == "a@example.test")) is None


def test_an_address_in_use_is_refused_with_409_and_nothing_changes(client, make, admin):
    make.user("member", email="taken@example.test")
    page = post(client, "/admin/users", {"name": "B", "email": "TAKEN@example.test", "role": "janitor"})
    assert page.status_code == 409 and "finnes allerede" in text(page)
    db.session.commit()
    assert db.session.scalar(select(User.role).where(User.email == "taken@example.test")) == "member"


def test_memberships_are_added_and_removed_and_logged(client, make, admin):
    first, second = make.organization(name="Første lag"), make.organization(name="Andre lag")
    member = make.member(first)
    user_id = member.user.id
    page = client.get(f"/admin/users/{user_id}")
    assert page.status_code == 200 and "Første lag" in text(page)

    added = post(client, f"/admin/users/{user_id}/organizations", {"organization_id": str(second.id)})
    assert added.status_code == 303
    assert {r["organization_id"] for r in rows(memberships, user_id)} == {first.id, second.id}
    [logged] = entries(entity="memberships", entity_id=f"{user_id}/{second.id}")
    assert logged.action == "insert" and logged.after["organization_id"] == second.id
    assert logged.actor_user_id == admin.user.id
    assert "er nå medlem av Andre lag" in text(client.get(f"/admin/users/{user_id}"))

    again = post(client, f"/admin/users/{user_id}/organizations", {"organization_id": str(second.id)})
    assert again.status_code == 409 and "allerede" in text(again)

    removed = post(client, f"/admin/users/{user_id}/organizations/{first.id}/remove")
    assert removed.status_code == 303
    assert {r["organization_id"] for r in rows(memberships, user_id)} == {second.id}
    [gone] = entries(entity="memberships", entity_id=f"{user_id}/{first.id}")
    assert gone.action == "delete"
    twice = post(client, f"/admin/users/{user_id}/organizations/{first.id}/remove", follow_redirects=True)
    assert twice.status_code == 200 and "var ikke (lenger) medlem" in text(twice)


@pytest.mark.parametrize("value", ["", "abc", "0", "99999999", "2147483648", "9" * 5000])
def test_a_bad_organisation_to_add_is_a_422(client, make, admin, value):
    member = make.member()
    page = post(client, f"/admin/users/{member.user.id}/organizations", {"organization_id": value})
    assert page.status_code == 422
    assert len(rows(memberships, member.user.id)) == 1


def test_only_members_get_organisations_and_only_janitors_buildings(client, make, admin):
    organization, building = make.organization(), make.building()
    janitor, member = make.janitor(), make.member()
    page = post(
        client, f"/admin/users/{janitor.user.id}/organizations", {"organization_id": str(organization.id)}
    )
    assert page.status_code == 422 and "Bare medlemmer" in text(page)
    page = post(client, f"/admin/users/{member.user.id}/buildings", {"building_id": str(building.id)})
    assert page.status_code == 422 and "Bare vaktmestere" in text(page)
    assert rows(janitor_buildings, member.user.id) == []
    assert rows(memberships, janitor.user.id) == []


def test_a_janitors_buildings_are_assigned_and_taken_away(client, make, admin):
    here, there = make.building(name="Rud skole"), make.building(name="Eikeli skole")
    janitor = make.janitor(here)
    user_id = janitor.user.id
    added = post(client, f"/admin/users/{user_id}/buildings", {"building_id": str(there.id)})
    assert added.status_code == 303
    assert {r["building_id"] for r in rows(janitor_buildings, user_id)} == {here.id, there.id}
    assert entries(entity="janitor_buildings", entity_id=f"{user_id}/{there.id}")[0].action == "insert"
    removed = post(client, f"/admin/users/{user_id}/buildings/{here.id}/remove")
    assert removed.status_code == 303
    assert {r["building_id"] for r in rows(janitor_buildings, user_id)} == {there.id}
    assert entries(entity="janitor_buildings", entity_id=f"{user_id}/{here.id}")[0].action == "delete"
    # The janitor's day sheet of the building taken away is refused with the next request.
    log_in(client, janitor.user)
    assert client.get(f"/janitor/{here.id}").status_code == 403


def test_deactivating_ends_the_users_tokens_and_is_refused_for_oneself(client, make, admin):
    member = make.member()
    answer = post(client, f"/admin/users/{member.user.id}/deactivate", follow_redirects=True)
    assert answer.status_code == 200 and "Deaktiverte" in text(answer)
    db.session.commit()
    assert not db.session.get(User, member.user.id, populate_existing=True).active
    assert (
        db.session.scalar(select(ApiToken.revoked_at).where(ApiToken.user_id == member.user.id)) is not None
    )
    assert client.get("/api/v1/me", headers=member.headers).status_code == 401
    assert entries(entity="users", entity_id=str(member.user.id), action="update")[-1].after == {
        "active": False
    }

    own = post(client, f"/admin/users/{admin.user.id}/deactivate", follow_redirects=True)
    assert "Du kan ikke deaktivere din egen konto" in text(own)
    db.session.commit()
    assert db.session.get(User, admin.user.id, populate_existing=True).active


def test_an_unknown_user_is_a_404(client, admin):
    assert client.get("/admin/users/999999").status_code == 404
    assert client.get("/admin/users/2147483648").status_code == 404  # beyond a 32-bit id
    assert client.get("/admin/users/" + "9" * 5000).status_code == 404
    assert post(client, "/admin/users/2147483648/organizations/2147483648/remove").status_code == 404
    assert post(client, "/admin/users/999999/deactivate").status_code == 404
    assert post(client, "/admin/users/999999/organizations", {"organization_id": "1"}).status_code == 404


# --- the audit log ---------------------------------------------------------------------------


def test_the_log_shows_who_and_before_and_after_side_by_side_in_words(client, make, admin):
    room = make.room(capacity=20, name="Salen")
    assert (
        client.patch(
            f"/api/v1/rooms/{room.id}",
            headers=admin.headers,
            json={"capacity": 35, "requires_approval": True},
        ).status_code
        == 200
    )
    page = client.get(f"/admin/audit?entity=rooms&entity_id={room.id}&action=update")
    assert page.status_code == 200
    html, shown = page.get_data(as_text=True), text(page)
    assert "Revisjonslogg" in shown
    assert f"Rom, nr. {room.id}: endret" in shown
    assert (
        admin.user.name in shown and admin.user.email in shown and f"PATCH /api/v1/rooms/{room.id}" in shown
    )
    assert "capacity 20 35" in shown and "requires_approval nei ja" in shown
    assert "{" not in shown and '"capacity"' not in html  # words, not JSON


def test_instants_and_amounts_read_as_local_time_and_money(client, make, admin):
    organization = full_org(make, name="Pengelaget")
    member = make.member(organization)
    room = make.room()
    day = plain_weekday(today() + timedelta(days=20))
    booking = book(client, member, room, organization, at(day, "18:00"), at(day, "20:00"))
    page = client.get(f"/admin/audit?entity=bookings&entity_id={booking['id']}")
    shown = text(page)
    assert "18:00" in shown  # local wall clock, not the UTC of the stored instant
    assert f"{day.year}-{day.month:02d}-{day.day:02d}T" not in shown
    assert "kr" in shown and "total_ore" in shown


def test_the_log_filters_by_who_what_and_when(client, make, admin):
    other = make.admin()
    room = make.room(capacity=20)
    client.patch(f"/api/v1/rooms/{room.id}", headers=admin.headers, json={"capacity": 21})
    client.patch(f"/api/v1/rooms/{room.id}", headers=other.headers, json={"capacity": 22})
    by_other = text(client.get(f"/admin/audit?who={other.user.email.upper()}&entity=rooms"))
    assert "21 22" in by_other and "20 21" not in by_other
    by_id = text(client.get(f"/admin/audit?who={admin.user.id}&entity=rooms"))
    assert "20 21" in by_id and "21 22" not in by_id
    now = today()
    assert "20 21" in text(client.get(f"/admin/audit?entity=rooms&from={now}&to={now}"))
    tomorrow = now + timedelta(days=1)
    assert "20 21" not in text(client.get(f"/admin/audit?entity=rooms&from={tomorrow}"))
    assert "Ingen endringer" in text(client.get(f"/admin/audit?entity=rooms&to={now - timedelta(days=1)}"))


@pytest.mark.parametrize(
    "query",
    [
        "from=garbage",
        "to=2026-13-01",
        "from=9999-12-31",
        "from=0001-01-01",
        "from=2026-05-02&to=2026-05-01",
        "who=nobody@example.test",
        "who=99999999999999999999999999",
        "before=-1",
        "before=2147483648",
        "after=2147483648",
        "who=2147483648",
        "before=99999999999999999999999999",
        "after=x",
        "entity_id=" + "x" * 61,
    ],
)
def test_hostile_filters_are_a_422_with_the_form_again(client, admin, query):
    page = client.get(f"/admin/audit?{query}")
    assert page.status_code == 422
    assert "Revisjonslogg" in text(page) and 'class="error-summary"' in page.get_data(as_text=True)


def test_an_unknown_table_or_action_shows_everything(client, admin):
    assert client.get("/admin/audit?entity=pg_catalog&action=truncate").status_code == 200


def test_the_log_pages_by_keyset_older_and_newer(client, make, admin):
    room = make.room(capacity=1)
    count = AUDIT_PER_PAGE + 10  # a full page and ten older
    for capacity in range(2, 2 + count):
        client.patch(f"/api/v1/rooms/{room.id}", headers=admin.headers, json={"capacity": capacity})
    ids = [e.id for e in entries(entity="rooms", action="update")]
    assert len(ids) == count
    first = client.get("/admin/audit?entity=rooms&action=update")
    html = first.get_data(as_text=True)
    assert f'id="entry-{ids[-1]}"' in html and f'id="entry-{ids[10]}"' in html
    assert f'id="entry-{ids[9]}"' not in html  # a page holds AUDIT_PER_PAGE
    assert f"before={ids[10]}" in html
    older = client.get(f"/admin/audit?entity=rooms&action=update&before={ids[10]}")
    older_html = older.get_data(as_text=True)
    assert f'id="entry-{ids[9]}"' in older_html and f'id="entry-{ids[0]}"' in older_html
    assert f'id="entry-{ids[10]}"' not in older_html
    assert f"after={ids[9]}" in older_html and 'rel="next"' not in older_html  # no older page
    newer = client.get(f"/admin/audit?entity=rooms&action=update&after={ids[9]}")
    newer_html = newer.get_data(as_text=True)
    assert f'id="entry-{ids[10]}"' in newer_html and f'id="entry-{ids[-1]}"' in newer_html
    newest, oldest = (newer_html.index(f'id="entry-{ids[i]}"') for i in (-1, 10))
    assert newest < oldest  # newest first


# --- invoices ----------------------------------------------------------------------------------


@pytest.fixture
def invoiced(client, make):
    """A booking of a full-price organisation in a month that starts 40 days or more ahead."""
    ahead = today() + timedelta(days=40)
    month = ahead.replace(day=1) + timedelta(days=32)
    month = month.replace(day=1)
    organization = full_org(make, name="Alfa Korps")
    member = make.member(organization)
    room = make.room(make.building(), name="Møterom Ærlig")
    day = plain_weekday(month)
    booking = book(client, member, room, organization, at(day, "18:00"), at(day, "20:00"))
    return {"month": f"{month:%Y-%m}", "booking": booking, "organization": organization}


def test_the_month_shows_a_table_per_organisation_with_lines_and_totals(client, invoiced, admin):
    page = client.get(f"/admin/invoices?month={invoiced['month']}")
    assert page.status_code == 200
    shown = text(page)
    year, month = (int(p) for p in invoiced["month"].split("-"))
    result = monthly_invoices(ADMIN, year, month)
    [invoice] = result["invoices"]
    assert "Alfa Korps" in shown and "Møterom Ærlig" in shown and "Leie, hverdag" in shown
    total = invoice["total_ore"]
    assert total > 0
    assert f"kr {total // 100:,}".replace(",", " ") in shown  # the total as money, e.g. kr 1 000,00
    assert f"booking nr. {invoiced['booking']['id']}" in shown
    html = page.get_data(as_text=True)
    assert f'href="/admin/invoices.csv?month={invoiced["month"]}"' in html


def test_the_csv_link_downloads_the_file_the_accounting_system_reads(client, invoiced, admin):
    answer = client.get(f"/admin/invoices.csv?month={invoiced['month']}")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == f'attachment; filename="invoices-{invoiced["month"]}.csv"'
    year, month = (int(p) for p in invoiced["month"].split("-"))
    body = answer.get_data(as_text=True)
    assert body == invoices_csv(monthly_invoices(ADMIN, year, month))
    assert body.startswith("organization;org_number;") and "Alfa Korps" in body


def test_an_empty_month_says_so(client, admin):
    page = client.get("/admin/invoices?month=2001-02")
    assert page.status_code == 200 and "Ingenting å fakturere" in text(page)


def test_without_a_month_the_current_one_is_shown(client, admin):
    now = today()
    page = client.get("/admin/invoices")
    assert page.status_code == 200 and f'value="{now:%Y-%m}"' in page.get_data(as_text=True)
    assert client.get("/admin/invoices.csv").status_code == 200


@pytest.mark.parametrize(
    "month", ["2026-13", "2026-00", "garbage", "1999-12", "2101-01", "2026-5", "9" * 5000]
)
@pytest.mark.parametrize("path", ["/admin/invoices", "/admin/invoices.csv"])
def test_a_bad_month_is_a_422_page_with_the_picker(client, admin, path, month):
    page = client.get(f"{path}?month={month}")
    assert page.status_code == 422 and page.mimetype == "text/html"
    assert "Skriv inn en måned som ÅÅÅÅ-MM" in text(page)


@pytest.mark.parametrize("query", ["/admin/audit?who=%00", "/admin/invoices?month=%00", "/admin/users?q=%00"])
def test_a_nul_byte_in_a_query_is_refused_not_a_500(client, admin, query):
    assert 400 <= client.get(query).status_code < 500


def test_the_user_list_and_the_log_send_as_many_statements_for_many_rows_as_for_few(client, make, admin):
    from tests.integration.test_query_counts import statements

    def counted(path: str) -> int:
        with statements() as seen:
            assert client.get(path).status_code == 200
        return len(seen)

    def grow() -> None:
        for _ in range(4):
            organization, building = make.organization(), make.building()
            make.member(organization)
            make.janitor(building)
            make.user("admin")

    grow()
    few = (counted("/admin/users"), counted("/admin/audit"))
    grow()
    grow()
    assert (counted("/admin/users"), counted("/admin/audit")) == few


def test_two_adds_of_one_membership_at_once_one_is_told_it_exists_already(app_ctx, make):
    from booking.web.security import LOGIN_KEY
    from tests.integration.test_user_admin import at_once
    from tests.integration.web_helpers import TOKEN, session_secret

    first, second = make.admin(), make.admin()
    organization_id = make.organization().id
    member = make.member()
    user_id = member.user.id
    secrets = [session_secret(app_ctx, first.user), session_secret(app_ctx, second.user)]
    path = f"/admin/users/{user_id}/organizations"

    def adder(secret: str):
        def add(c):
            return c.post(path, data={"organization_id": str(organization_id), "csrf_token": TOKEN})

        def prepare(c):
            with c.session_transaction() as session:
                session[LOGIN_KEY], session["csrf_token"] = secret, TOKEN

        add.prepare = prepare
        return add

    answers = at_once(app_ctx, *(adder(s) for s in secrets))
    assert sorted(a.status_code for a in answers) == [303, 409]
    added = [r for r in rows(memberships, user_id) if r["organization_id"] == organization_id]
    assert len(added) == 1
    assert len(entries(entity="memberships", entity_id=f"{user_id}/{organization_id}")) == 1
