"""rendered feeds kept per feed and change marker (feed_cache)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 19:55:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('feed_cache',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('etag', sa.String(length=160), nullable=False),
    sa.Column('last_modified', sa.DateTime(timezone=True), nullable=True),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_feed_cache'))
    )
    with op.batch_alter_table('feed_cache', schema=None) as batch_op:
        batch_op.create_index('ix_feed_cache_created_at', ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('feed_cache', schema=None) as batch_op:
        batch_op.drop_index('ix_feed_cache_created_at')

    op.drop_table('feed_cache')
