"""The ``booking`` command shares the app: demo data and create-user."""

from booking.cli import main
from booking.extensions import db
from booking.models import Booking, Building, Organization, Room, Series, User


def count(model) -> int:
    return db.session.execute(db.select(db.func.count()).select_from(model)).scalar()


def test_demo_is_idempotent_and_complete(app_ctx):
    runner = app_ctx.test_cli_runner()
    first = runner.invoke(main, ["demo"])
    assert first.exit_code == 0, first.output
    assert "loaded" in first.output
    counts = {model: count(model) for model in (Building, Room, Organization, User, Booking, Series)}
    second = runner.invoke(main, ["demo"])
    assert second.exit_code == 0 and "there already" in second.output
    assert {model: count(model) for model in counts} == counts
    assert counts[Building] >= 3 and 12 <= counts[Room] <= 18 and counts[Series] >= 3
    roles = set(db.session.execute(db.select(User.role)).scalars())
    assert roles == {"admin", "janitor", "member"}
    categories = set(db.session.execute(db.select(Organization.price_category)).scalars())
    assert categories == {"free", "reduced", "full"}
    assert any(room.parts for room in db.session.execute(db.select(Room)).scalars())


def test_create_user_prints_a_working_token(app_ctx, make):
    organization = make.organization()
    runner = app_ctx.test_cli_runner()
    result = runner.invoke(
        main,
        ["create-user", "--email", "Ola@Example.test", "--role", "member", "--org", str(organization.id)],
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    me = app_ctx.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert me["email"] == "ola@example.test" and me["organizations"][0]["id"] == organization.id
    duplicate = runner.invoke(main, ["create-user", "--email", "ola@example.test", "--role", "admin"])
    assert duplicate.exit_code != 0 and "exists already" in duplicate.output
    bad = runner.invoke(
        main, ["create-user", "--email", "x@example.test", "--role", "janitor", "--building", "999"]
    )
    assert bad.exit_code != 0 and "building_ids" in bad.output


def test_demo_on_an_empty_database_says_to_migrate_first(tmp_path):
    from booking import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.sqlite'}", "TESTING": True})
    result = app.test_cli_runner().invoke(main, ["demo"])
    assert result.exit_code != 0 and "booking db upgrade" in result.output
    assert "Traceback" not in result.output
