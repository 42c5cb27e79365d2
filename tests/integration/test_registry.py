"""The national register of organisations (SPEC §13): ``booking registry import`` loads a file in
the format of Enhetsregisteret's bulk download of units (a JSON array of unit objects with the
published field names, gzip or not), made here; ``GET /api/v1/registry/{org_number}`` and the
admin's verification page show what it says."""

from __future__ import annotations

import gzip
import io
import json
import threading
from datetime import date

import pytest

from booking.cli import main
from booking.domain.organizations import synthetic_org_number
from booking.extensions import db, unit_of_work
from booking.models import Organization, RegistryUnit
from booking.services import registry_import
from booking.services.registry import facts_for
from tests.integration.web_helpers import log_in, post, text


def number(n: int) -> str:
    return synthetic_org_number(60_000_000, n)


LOCAL = number(1)  # business address in Bærum, the configured municipality (3201)
ELSEWHERE = number(2)  # in Oslo
FRIVILLIG = number(3)  # registered in Frivillighetsregisteret
BANKRUPT = number(4)
DELETED = number(5)
WOUND_UP = number(6)  # under forced liquidation
POST_ONLY = number(7)  # a post address, no business address
LONG_NAME = number(8)
UNKNOWN = number(9)  # valid, not in the file
BAERUM, OSLO = ("3201", "BÆRUM"), ("0301", "OSLO")


def enhet(org_number: str, name: str, municipality=BAERUM, form=("FLI", "Forening/lag/innretning"), **fields):
    """A unit as the bulk file publishes it (the fields the import reads, and some it ignores)."""
    address = {
        "land": "Norge",
        "landkode": "NO",
        "postnummer": "1356",
        "poststed": municipality[1],
        "adresse": ["Gamle Ringeriksvei 1"],
        "kommune": municipality[1],
        "kommunenummer": municipality[0],
    }
    unit = {
        "organisasjonsnummer": org_number,
        "navn": name,
        "organisasjonsform": {"kode": form[0], "beskrivelse": form[1], "links": []},
        "registreringsdatoEnhetsregisteret": "1995-02-20",
        "registrertIMvaregisteret": False,
        "naeringskode1": {"kode": "90.012", "beskrivelse": "Utøvende kunstnere innen musikk"},
        "harRegistrertAntallAnsatte": False,
        "forretningsadresse": address,
        "institusjonellSektorkode": {"kode": "7000", "beskrivelse": "Ideelle organisasjoner"},
        "registrertIForetaksregisteret": False,
        "registrertIStiftelsesregisteret": False,
        "registrertIFrivillighetsregisteret": False,
        "konkurs": False,
        "underAvvikling": False,
        "underTvangsavviklingEllerTvangsopplosning": False,
        "maalform": "Bokmål",
        "links": [],
    }
    unit.update(fields)
    return unit


def without(unit: dict, key: str) -> dict:
    return {k: v for k, v in unit.items() if k != key}


POST_ADDRESS = {"postnummer": "1300", "poststed": "SANDVIKA", "kommune": "BÆRUM", "kommunenummer": "3201"}
UNITS = [
    enhet(LOCAL, "BEKKESTUA SKOLEKORPS"),
    enhet(ELSEWHERE, "OSLO SJAKKLUBB", OSLO),
    enhet(FRIVILLIG, "STABEKK IDRETTSLAG", registrertIFrivillighetsregisteret=True),
    enhet(BANKRUPT, "KONKURS AS", form=("AS", "Aksjeselskap"), konkurs=True, konkursdato="2025-01-10"),
    enhet(DELETED, "SLETTET FORENING", slettedato="2024-06-30"),
    enhet(WOUND_UP, "AVVIKLES FORENING", underTvangsavviklingEllerTvangsopplosning=True),
    without(enhet(POST_ONLY, "POSTBOKS LAG", postadresse=POST_ADDRESS), "forretningsadresse"),
    enhet(LONG_NAME, "LANGT NAVN " * 60),
]
MALFORMED = [
    enhet("123456789", "FEIL KONTROLLSIFFER"),  # fails mod-11
    without(enhet(number(10), "UTEN NUMMER"), "organisasjonsnummer"),
    enhet(number(11), ""),  # no name
    enhet(number(12), "RAR SLETTEDATO", slettedato="i fjor"),
    42,
    enhet(LOCAL, "BEKKESTUA SKOLEKORPS IGJEN"),  # the number again
]


def file_bytes(units, compressed: bool = False) -> bytes:
    data = json.dumps(units, ensure_ascii=False, indent=1).encode()
    return gzip.compress(data) if compressed else data


@pytest.fixture
def register_file(tmp_path):
    def write(units=UNITS + MALFORMED, compressed: bool = True, name: str | None = None):
        path = tmp_path / (name or ("enheter_alle.json.gz" if compressed else "enheter_alle.json"))
        path.write_bytes(file_bytes(units, compressed))
        return path

    return write


def run_import(app, path):
    return app.test_cli_runner().invoke(main, ["registry", "import", str(path)])


def imported(app, path) -> str:
    result = run_import(app, path)
    assert result.exit_code == 0, result.output
    db.session.rollback()  # read what the command committed
    return result.output


def units_in_table() -> dict[str, RegistryUnit]:
    return {unit.org_number: unit for unit in db.session.execute(db.select(RegistryUnit)).scalars()}


# --- the import --------------------------------------------------------------------------------


@pytest.mark.parametrize("compressed", [True, False], ids=["gzip", "json"])
def test_the_command_imports_the_official_format_and_skips_malformed_units(
    app_ctx, register_file, compressed
):
    output = imported(app_ctx, register_file(compressed=compressed))
    assert output.startswith(f"Imported {len(UNITS)} units, skipped {len(MALFORMED)}, in ")
    assert "'123456789' is not a valid organisation number" in output
    assert set(units_in_table()) == {
        LOCAL,
        ELSEWHERE,
        FRIVILLIG,
        BANKRUPT,
        DELETED,
        WOUND_UP,
        POST_ONLY,
        LONG_NAME,
    }

    local = facts_for(LOCAL)
    assert local.name in ("BEKKESTUA SKOLEKORPS", "BEKKESTUA SKOLEKORPS IGJEN")  # the number once
    assert (local.form_code, local.form_description) == ("FLI", "Forening/lag/innretning")
    assert (local.municipality_number, local.municipality, local.local) == ("3201", "BÆRUM", True)
    assert not local.registered_in_frivillighetsregisteret and not local.bankrupt
    assert not local.under_liquidation and local.deleted_on is None
    elsewhere = facts_for(ELSEWHERE)
    assert (elsewhere.municipality_number, elsewhere.local) == ("0301", False)
    assert facts_for(FRIVILLIG).registered_in_frivillighetsregisteret
    assert facts_for(BANKRUPT).bankrupt and facts_for(BANKRUPT).form_code == "AS"
    assert facts_for(DELETED).deleted_on == date(2024, 6, 30)
    assert facts_for(WOUND_UP).under_liquidation
    post_only = facts_for(POST_ONLY)  # only the business address says where it is based
    assert (post_only.municipality_number, post_only.municipality, post_only.local) == (None, None, False)
    assert len(facts_for(LONG_NAME).name) == 500
    assert facts_for(UNKNOWN) is None and facts_for(number(11)) is None


def test_the_municipality_is_configuration(app_ctx, register_file, monkeypatch):
    imported(app_ctx, register_file())
    monkeypatch.setitem(app_ctx.config, "BOOKING_MUNICIPALITY_NUMBER", "0301")
    assert facts_for(ELSEWHERE).local and not facts_for(LOCAL).local


def test_a_new_import_replaces_the_copy(app_ctx, register_file):
    imported(app_ctx, register_file())
    first = facts_for(ELSEWHERE).imported_at
    newcomer = number(13)
    output = imported(
        app_ctx,
        register_file(
            [enhet(ELSEWHERE, "OSLO SJAKKLUBB OG BRIDGE", OSLO), enhet(newcomer, "NYTT LAG")],
            name="new.json.gz",
        ),
    )
    assert output.startswith("Imported 2 units, skipped 0")
    assert set(units_in_table()) == {ELSEWHERE, newcomer}
    assert facts_for(LOCAL) is None
    assert (
        facts_for(ELSEWHERE).name == "OSLO SJAKKLUBB OG BRIDGE" and facts_for(ELSEWHERE).imported_at > first
    )


GOOD = [enhet(number(20 + n), f"LAG {n}") for n in range(9)]
BAD_FILES = {
    "empty": b"",
    "not JSON": b"organisasjonsnummer;navn\n600000101;LAG\n",
    "an object": json.dumps({"enheter": GOOD}).encode(),
    "no units": b"[]",
    "no unit objects": b"[1, 2, 3]",
    "only malformed units": file_bytes(MALFORMED[:4]),
    "JSON cut short": file_bytes(GOOD)[:-200],
    "JSON broken after some batches": file_bytes(GOOD)[:-2] + b", {oops}]",
    "gzip cut short": file_bytes(GOOD, compressed=True)[:-40],
    "gzip of something else": gzip.compress(b"<html>not the register</html>"),
    "gzip header only": b"\x1f\x8b",
    # a small file that would cost gigabytes of memory to parse into paths (200,000 levels)
    "nested deep": b'[{"organisasjonsnummer": "%s", "navn": "A", "x": ' % number(40).encode()
    + b"[" * 200_000
    + b"]" * 200_000
    + b"}]",
    "unclosed nesting": b"[" * 500_000,
    "a huge name": file_bytes([enhet(number(41), "A" * 200_000)]),
}


@pytest.mark.parametrize("content", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_file_that_is_not_the_register_changes_nothing(
    app_ctx, register_file, tmp_path, monkeypatch, content
):
    imported(app_ctx, register_file())
    before = {n: (u.name, u.imported_at) for n, u in units_in_table().items()}
    monkeypatch.setattr(registry_import, "BATCH_SIZE", 2)  # rows are written before the break
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(content)
    result = run_import(app_ctx, bad)
    assert result.exit_code == 1 and result.output.startswith("Error: "), result.output
    assert "Traceback" not in result.output
    db.session.rollback()
    assert {n: (u.name, u.imported_at) for n, u in units_in_table().items()} == before


def test_a_byte_order_mark_may_lead(app_ctx, tmp_path):
    marked = tmp_path / "marked.json"
    marked.write_bytes(b"\xef\xbb\xbf" + file_bytes(GOOD))
    result = run_import(app_ctx, marked)
    assert result.exit_code == 0 and result.output.startswith(f"Imported {len(GOOD)} units"), result.output


def test_the_command_reads_standard_input(app_ctx):
    result = app_ctx.test_cli_runner().invoke(
        main, ["registry", "import", "-"], input=file_bytes(UNITS, True)
    )
    assert result.exit_code == 0 and result.output.startswith(f"Imported {len(UNITS)} units"), result.output


class PausingFile(io.RawIOBase):
    """A file that hands out its first part, then waits to be told to go on: an import caught
    halfway, its DELETE and first batches written but not committed."""

    def __init__(self, first: bytes, rest: bytes) -> None:
        self.parts, self.reached, self.go_on = [first, rest], threading.Event(), threading.Event()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if not self.parts:
            return 0
        if len(self.parts) == 1:
            self.reached.set()
            assert self.go_on.wait(30)
        part = self.parts[0]
        size = min(len(buffer), len(part))
        buffer[:size] = part[:size]
        if size == len(part):
            self.parts.pop(0)
        else:
            self.parts[0] = part[size:]
        return size


def test_lookups_during_an_import_see_the_previous_copy(app_ctx, register_file, monkeypatch):
    imported(app_ctx, register_file())
    monkeypatch.setattr(registry_import, "BATCH_SIZE", 2)
    new_units = [enhet(number(30 + n), f"NYTT LAG {n}") for n in range(10)]
    encoded = [json.dumps(unit).encode() for unit in new_units]
    # Enough whitespace after the first units that every buffer on the way fills before the pause.
    first = b"[" + b",".join(encoded[:6]) + b"," + b" " * (4 << 20)
    rest = b",".join(encoded[6:]) + b"]"
    paused = PausingFile(first, rest)
    errors = []

    def run():
        try:
            with app_ctx.app_context():
                with unit_of_work():
                    registry_import.import_units(io.BufferedReader(paused))
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert paused.reached.wait(30), errors
        db.session.rollback()
        assert facts_for(LOCAL) is not None and facts_for(number(30)) is None
        assert len(units_in_table()) == len(UNITS)
    finally:
        paused.go_on.set()
        worker.join(60)
    assert not errors
    db.session.rollback()
    assert set(units_in_table()) == {u["organisasjonsnummer"] for u in new_units}


def test_copy_stores_what_plain_sqlalchemy_stores(app_ctx, register_file, is_postgres, monkeypatch):
    """The PostgreSQL import goes through COPY; plain INSERTs must give the same rows."""
    if not is_postgres:
        pytest.skip("COPY is PostgreSQL's; SQLite imports with the plain INSERTs")
    path = register_file(UNITS + MALFORMED[:-1])  # without the repeated number: either may win

    def rows():
        return {
            n: {c.name: getattr(u, c.name) for c in RegistryUnit.__table__.columns if c.name != "imported_at"}
            for n, u in units_in_table().items()
        }

    imported(app_ctx, path)
    copied = rows()
    monkeypatch.setattr(registry_import, "_write", registry_import._write_plain)
    imported(app_ctx, path)
    assert rows() == copied and len(copied) == len(UNITS)


# --- the lookup over HTTP ----------------------------------------------------------------------


def test_lookup_by_role(app_ctx, client, make, register_file):
    own = make.organization(org_number=LOCAL, name="Bekkestua Skolekorps")
    unknown_own = make.organization(org_number=UNKNOWN, name="Ukjent Lag")
    imported(app_ctx, register_file())
    admin, member, other = make.admin(), make.member(own), make.member()
    janitor = make.janitor(make.building())

    answer = client.get(f"/api/v1/registry/{LOCAL}", headers=admin.headers)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["org_number"] == LOCAL and body["municipality_number"] == "3201" and body["local"] is True
    assert body["form_code"] == "FLI" and body["registered_in_frivillighetsregisteret"] is False
    assert body["bankrupt"] is False and body["under_liquidation"] is False and body["deleted_on"] is None
    assert client.get(f"/api/v1/registry/{LOCAL}", headers=member.headers).get_json() == body
    assert (
        client.get(f"/api/v1/registry/{DELETED}", headers=admin.headers).get_json()["deleted_on"]
        == "2024-06-30"
    )

    for login in (other, janitor):
        assert client.get(f"/api/v1/registry/{LOCAL}", headers=login.headers).status_code == 403
    assert client.get(f"/api/v1/registry/{LOCAL}").status_code == 401
    assert (
        client.get(f"/api/v1/registry/{ELSEWHERE}", headers=member.headers).status_code == 403
    )  # not theirs

    for who in (admin, make.member(unknown_own)):  # a member's own number the register does not know
        missing = client.get(f"/api/v1/registry/{UNKNOWN}", headers=who.headers)
        assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    for malformed in ("12345", "1234567890", "12345678x", "123456789", "%C3%A6%C3%B8%C3%A5456789"):
        invalid = client.get(f"/api/v1/registry/{malformed}", headers=admin.headers)
        assert invalid.status_code == 422 and "org_number" in invalid.get_json()["errors"], malformed
    assert client.get("/api/v1/registry/12345").status_code == 401


def test_without_a_register_every_number_is_unknown(client, make):
    admin = make.admin()
    assert client.get(f"/api/v1/registry/{LOCAL}", headers=admin.headers).status_code == 404


# --- the admin's verification page ------------------------------------------------------------


def test_admin_page_shows_the_register_next_to_what_organisations_said(app_ctx, client, make, register_file):
    matching = make.organization(verified=False, org_number=LOCAL, name="Bekkestua Skolekorps", local=True)
    renamed = make.organization(verified=False, org_number=ELSEWHERE, name="Stabekk Hornmusikk", local=True)
    bankrupt = make.organization(verified=False, org_number=BANKRUPT, name="Konkurs AS", local=True)
    unknown = make.organization(verified=False, org_number=UNKNOWN, name="Ukjent Lag")
    make.organization(verified=True, org_number=FRIVILLIG, name="Stabekk IL")
    log_in(client, make.admin().user)
    assert "Ingen registerfil er importert" in text(client.get("/admin"))

    imported(app_ctx, register_file())
    body = text(client.get("/admin"))
    # Same name but for case and spaces: no difference to check.
    assert (
        f"{matching.name}: oppgitt og registrert Oppgitt I registeret Navn {matching.name} BEKKESTUA" in body
    )
    assert "Organisasjonsform – Forening/lag/innretning (FLI)" in body
    assert "ja: forretningsadresse i BÆRUM (3201)" in body
    # Another name, and not based here by the register: both flagged.
    assert f"{renamed.name}: oppgitt og registrert – kontroller avvikene" in body
    assert f"Navn {renamed.name} OSLO SJAKKLUBB avviker" in body
    assert "Hjemmehørende i kommunen ja nei: forretningsadresse i OSLO (0301) avviker" in body
    assert f"{bankrupt.name}: oppgitt og registrert – kontroller avvikene" in body and " konkurs " in body
    assert "Ikke i registeret" in body and unknown.name in body
    assert "Stabekk IL" not in body  # verified: nothing to decide


def test_admin_rejects_an_organisation_from_the_page(app_ctx, client, make, register_file):
    organization = make.organization(verified=False, name="Tvilsomt Lag")
    member = make.member(organization)
    log_in(client, member.user)
    assert post(client, f"/admin/organizations/{organization.id}/reject").status_code == 403
    log_in(client, make.admin().user)
    assert "Tvilsomt Lag" in text(client.get("/admin"))
    assert post(client, f"/admin/organizations/{organization.id}/reject").status_code == 303
    body = text(client.get("/admin"))
    assert "Tvilsomt Lag er avvist" in body
    assert f"/admin/organizations/{organization.id}/reject" not in body
    db.session.rollback()
    rejected = db.session.get(Organization, organization.id)
    assert rejected.rejected_at is not None and not rejected.verified
    missing = post(client, "/admin/organizations/999999/reject")
    assert missing.status_code == 303 and "Kunne ikke avvise organisasjon #999999" in text(
        client.get("/admin")
    )
