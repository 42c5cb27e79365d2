"""what each feed marker version changed (feed_changes); the marker versions of a kept rendering

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 12:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('feed_changes',
    sa.Column('scope', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'version', name=op.f('pk_feed_changes'))
    )
    with op.batch_alter_table('feed_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feed_changes_changed_at'), ['changed_at'], unique=False)
    with op.batch_alter_table('feed_cache', schema=None) as batch_op:
        batch_op.add_column(sa.Column('versions', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('feed_cache', schema=None) as batch_op:
        batch_op.drop_column('versions')
    with op.batch_alter_table('feed_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feed_changes_changed_at'))

    op.drop_table('feed_changes')
