"""``python -m bench registry``: importing Enhetsregisteret's bulk file of units (SPEC §13).

Writes a synthetic file in the register's published format (a gzip-compressed JSON array of
unit objects with the published field names, about as large per unit as the real ones) with
``--units`` units, streamed to disk, and imports it with ``booking.services.registry_import`` into
the database at ``--url``: its own database (reset and migrated; the name must contain
``bench``), PostgreSQL by default, or a SQLite file.

Three child processes, each measuring its own peak memory (``ru_maxrss``), one after the other:
- **idle**: the app created and connected, nothing imported: the memory any CLI command costs;
- **parse** (the baseline, the ratio's denominator): the same file gunzipped and parsed into unit
  objects by ijson (the same backend), no database: what any streaming reader must pay;
- **import**: ``import_units`` in one transaction, committed.
If the import held the file in memory, its peak would grow with the file (the uncompressed JSON
is reported beside it); streamed, it stays near the idle app's. One unit in 100,000 is malformed
on purpose (a number that fails mod-11) and must be reported as skipped.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import append_report
from booking.domain.organizations import synthetic_org_number

MUNICIPALITIES = (("3201", "BÆRUM"), ("0301", "OSLO"), ("3203", "ASKER"), ("4601", "BERGEN"))
FORMS = (
    ("FLI", "Forening/lag/innretning"),
    ("AS", "Aksjeselskap"),
    ("ENK", "Enkeltpersonforetak"),
    ("STI", "Stiftelse"),
)
MALFORMED_EVERY = 100_000
NUMBER_BASE = 10_000_000  # synthetic numbers: 10,000,000x..., far from the test ranges
ROOT = Path(__file__).resolve().parents[1]


def unit(n: int, malformed_every: int = MALFORMED_EVERY) -> dict:
    """The n-th synthetic unit, shaped like one of the register's (its fields in its order)."""
    municipality_number, municipality = MUNICIPALITIES[n % len(MUNICIPALITIES)]
    form_code, form = FORMS[n % len(FORMS)]
    number = synthetic_org_number(NUMBER_BASE, n)
    if n % malformed_every == malformed_every - 1:
        number = number[:8] + str((int(number[8]) + 1) % 10)  # the check digit is wrong
    address = {
        "land": "Norge",
        "landkode": "NO",
        "postnummer": f"{1300 + n % 700:04d}",
        "poststed": municipality,
        "adresse": [f"Storgata {n % 200 + 1}"],
        "kommune": municipality,
        "kommunenummer": municipality_number,
    }
    data = {
        "organisasjonsnummer": number,
        "navn": f"SYNTETISK ENHET {n} {form_code}",
        "organisasjonsform": {"kode": form_code, "beskrivelse": form, "links": []},
        "registreringsdatoEnhetsregisteret": f"{1995 + n % 30}-0{1 + n % 9}-1{n % 10}",
        "registrertIMvaregisteret": n % 3 == 0,
        "naeringskode1": {"kode": "94.991", "beskrivelse": "Aktiviteter i andre interesseorganisasjoner"},
        "harRegistrertAntallAnsatte": n % 5 == 0,
    }
    if n % 10 == 9:  # some have only a post address
        data["postadresse"] = address
    else:
        data["forretningsadresse"] = address
    data.update(
        {
            "stiftelsesdato": f"{1950 + n % 70}-0{1 + n % 9}-0{1 + n % 9}",
            "institusjonellSektorkode": {"kode": "7000", "beskrivelse": "Ideelle organisasjoner"},
            "registrertIForetaksregisteret": form_code == "AS",
            "registrertIStiftelsesregisteret": form_code == "STI",
            "registrertIFrivillighetsregisteret": n % 20 == 0,
            "konkurs": n % 100 == 1,
            "underAvvikling": n % 100 == 2,
            "underTvangsavviklingEllerTvangsopplosning": n % 100 == 3,
            "maalform": "Bokmål",
            "links": [],
        }
    )
    if n % 100 == 4:
        data["slettedato"] = "2024-06-30"
    return data


def write_units_file(path: str, count: int, malformed_every: int = MALFORMED_EVERY) -> None:
    """The file, written unit by unit (memory stays flat whatever ``count`` is)."""
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as handle:
        handle.write("[")
        for n in range(count):
            handle.write(("," if n else "") + "\n" + json.dumps(unit(n, malformed_every), ensure_ascii=False))
        handle.write("\n]\n")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


# --- the child processes ---------------------------------------------------------------------


def _phase_idle(url: str, path: str) -> dict:
    from sqlalchemy import text

    from booking import create_app
    from booking.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        db.session.remove()
        db.engine.dispose()
    return {}


def _phase_parse(url: str, path: str) -> dict:
    import ijson

    started = time.monotonic()
    with gzip.open(path, "rb") as handle:
        units = sum(1 for _ in ijson.items(handle, "item", use_float=True))
        json_mb = handle.tell() / 2**20
    return {
        "units": units,
        "seconds": time.monotonic() - started,
        "backend": ijson.backend,
        "json_mb": json_mb,
    }


def _phase_import(url: str, path: str) -> dict:
    from booking import create_app
    from booking.extensions import db, unit_of_work
    from booking.services.registry_import import import_units

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})
    with app.app_context():
        started = time.monotonic()
        with unit_of_work():
            result = import_units(path)
        seconds = time.monotonic() - started  # with the COMMIT
        db.session.remove()
        db.engine.dispose()
    return {"imported": result.imported, "skipped": result.skipped, "seconds": seconds}


PHASES = {"idle": _phase_idle, "parse": _phase_parse, "import": _phase_import}


def _child(phase: str, url: str, path: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.bench_registry", phase, url, path],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- the benchmark ---------------------------------------------------------------------------


def run(
    url: str,
    *,
    units: int = 1_000_000,
    file: str | None = None,
    malformed_every: int = MALFORMED_EVERY,
    force: bool = False,
    command: str = "python -m bench registry",
    report: bool = True,
    save: bool = True,
) -> dict:
    """Generate (or reuse ``file``), then measure the three phases; returns the figures."""
    from bench.seed import check_target, reset_and_migrate
    from booking.config import normalize_database_url
    from booking.services.registry_import import BATCH_SIZE

    url = normalize_database_url(url)
    check_target(url, force)
    reset_and_migrate(url)
    directory = None if file else tempfile.mkdtemp(prefix="bench-registry-")
    path = file or os.path.join(directory, "enheter.json.gz")
    generated = 0.0
    if not (file and os.path.exists(file)):
        started = time.monotonic()
        write_units_file(path, units, malformed_every)
        generated = time.monotonic() - started
    file_mb = os.path.getsize(path) / 2**20
    try:
        idle = _child("idle", url, path)
        parse = _child("parse", url, path)
        imported = _child("import", url, path)
    finally:
        if directory:
            os.remove(path)
            os.rmdir(directory)
    malformed = parse["units"] // malformed_every
    figures = {
        "units": parse["units"],
        "imported": imported["imported"],
        "skipped": imported["skipped"],
        "expected_skipped": malformed,
        "parse_seconds": parse["seconds"],
        "import_seconds": imported["seconds"],
        "ratio": imported["seconds"] / parse["seconds"] if parse["seconds"] else 0.0,
        "idle_rss_mb": idle["peak_rss_mb"],
        "parse_rss_mb": parse["peak_rss_mb"],
        "import_rss_mb": imported["peak_rss_mb"],
        "generate_seconds": generated,
        "file_mb": file_mb,
        "json_mb": parse["json_mb"],
    }
    if report:
        how = (
            "COPY through a temporary table"
            if url.startswith("postgresql")
            else f"INSERTs in batches of {BATCH_SIZE:,}"
        )
        per_second = figures["imported"] / figures["import_seconds"] if figures["import_seconds"] else 0
        lines = [
            f"- file: {figures['units']:,} units in the register's JSON format, {file_mb:.0f} MB gzip, "
            f"{parse['json_mb']:.0f} MB of JSON "
            f"({f'written in {generated:.0f} s, not counted' if generated else 'reused'}); "
            f"ijson backend {parse['backend']}",
            f"- baseline, gunzip + parse with ijson, no database: {parse['seconds']:.1f} s, "
            f"peak RSS {parse['peak_rss_mb']:.0f} MB",
            f"- **import ({how}, one transaction, COMMIT included): "
            f"{imported['seconds']:.1f} s = {figures['ratio']:.2f}× the baseline, "
            f"{per_second:,.0f} units/s; {figures['imported']:,} imported, "
            f"{figures['skipped']} skipped (expected {malformed})**",
            f"- **peak RSS of the import: {imported['peak_rss_mb']:.0f} MB**; the app alone "
            f"(created, connected): {idle['peak_rss_mb']:.0f} MB",
        ]
        append_report("Register import (Enhetsregisteret bulk file)", url, lines, command, save=save)
    return figures


def main() -> None:
    """Child process entry: ``python -m bench.bench_registry PHASE URL FILE``; prints JSON."""
    phase, url, path = sys.argv[1:4]
    result = PHASES[phase](url, path)
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
