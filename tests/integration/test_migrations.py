"""One migration head, and upgrading an empty database gives exactly the models' schema."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from booking.extensions import db


def test_single_head(app_ctx):
    migrate_config = app_ctx.extensions["migrate"]
    config = migrate_config.migrate.get_config(migrate_config.directory)
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_upgraded_schema_equals_models(app_ctx):
    opts = {"compare_type": True, **app_ctx.extensions["migrate"].configure_args}
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), db.metadata)
    assert diff == []
