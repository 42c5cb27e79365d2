"""The ``booking`` command: a click group sharing the Flask app (``db`` comes from Flask-Migrate)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from booking import create_app
from booking.extensions import unit_of_work


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def main() -> None:
    """Municipal room booking."""


@main.command()
@with_appcontext
def demo() -> None:
    """Load demo data (idempotent: running it again changes nothing)."""
    from sqlalchemy import inspect

    from booking.demo import load_demo
    from booking.extensions import db

    if not inspect(db.engine).has_table("buildings"):
        raise click.ClickException("The database has no tables yet: run `booking db upgrade` first.")
    with unit_of_work():
        created = load_demo()
    click.echo("Demo data loaded." if created else "Demo data is there already.")


@main.command("create-user")
@click.option("--email", required=True)
@click.option("--name", default=None, help="Defaults to the e-mail address.")
@click.option("--role", required=True, type=click.Choice(["admin", "janitor", "member"]))
@click.option("--org", "organization_ids", type=int, multiple=True, help="Organisation id (members).")
@click.option("--building", "building_ids", type=int, multiple=True, help="Building id (janitors).")
@click.option("--password", default=None, help="Optional; without it the user logs in by token only.")
@with_appcontext
def create_user(email, name, role, organization_ids, building_ids, password) -> None:
    """Create a user and print an API token for it."""
    from booking.domain.errors import DomainError
    from booking.services.auth import issue_token
    from booking.services.users import add_user

    try:
        with unit_of_work():
            user = add_user(
                {
                    "email": email,
                    "name": name or email,
                    "role": role,
                    "password": password,
                    "organization_ids": list(organization_ids),
                    "building_ids": list(building_ids),
                }
            )
            token = issue_token(user, current_app.config["BOOKING_TOKEN_TTL_DAYS"])
    except DomainError as error:
        raise click.ClickException(f"{error.detail} {getattr(error, 'errors', '') or ''}".strip()) from error
    click.echo(token)


@main.group()
def registry() -> None:
    """The national register of organisations (Enhetsregisteret, SPEC §13)."""


@registry.command("import", short_help="Load the register's bulk file of units (JSON, gzip allowed).")
@click.argument("file", type=click.File("rb"))
@with_appcontext
def registry_import(file) -> None:
    """Replace the local copy of the register with FILE: Enhetsregisteret's bulk download of all
    units (JSON, gzip or not; '-' reads standard input). All or nothing: a file that is not the
    register's changes nothing."""
    from booking.services.registry_import import RegistryFileError, import_units

    try:
        with unit_of_work():
            result = import_units(file)
    except RegistryFileError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Imported {result.imported} units, skipped {result.skipped}, in {result.seconds:.1f} s.")
    for example in result.examples:
        click.echo(f"  skipped: {example}")


@main.command()
@click.option("--once", is_flag=True, help="Send what is due now, then exit (for cron or tests).")
def worker(once: bool) -> None:
    """Send the outbox's mail (SPEC §12): over SMTP with BOOKING_MAIL_URL, else as .eml files."""
    import logging
    import signal

    from booking.mail.worker import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    app = create_app()
    where = (
        app.config["BOOKING_MAIL_URL"]
        and "SMTP"
        or f"files in {app.config['BOOKING_MAIL_DIR'] or 'instance/mail'}"
    )
    click.echo(f"Mail worker: sending to {where}", err=True)
    Worker(app).run(once=once, should_stop=lambda: bool(stopping))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes")
@click.option("--dev", is_flag=True, help="Use the Flask development server instead of gunicorn.")
@click.option("--with-mail-worker", is_flag=True, help="Run `booking worker` beside the server.")
def serve(host: str, port: int, workers: int, dev: bool, with_mail_worker: bool) -> None:
    """Serve the app (gunicorn, or the Flask server with --dev)."""
    if with_mail_worker:
        import atexit
        import subprocess
        import sys

        mail_worker = subprocess.Popen(
            [sys.executable, "-c", "from booking.cli import main; main()", "worker"]
        )
        atexit.register(mail_worker.terminate)
    if dev:
        create_app().run(host=host, port=port, debug=True)
        return
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")
            self.cfg.set("graceful_timeout", 10)

        def load(self):
            return create_app()

    click.echo(f"Serving on http://{host}:{port} with {workers} gunicorn workers")
    Server().run()
