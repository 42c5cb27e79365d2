"""trust (SPEC §13): the register's units, server-side page sessions, rejected organisations

``registry_units`` holds Enhetsregisteret's open data as last imported (empty until an admin
imports a file: everything then stays manual). ``web_sessions`` makes a page session something
the server can end (logout, password reset, deactivation). ``organizations.rejected_at`` marks an
organisation an admin rejected; ``stated_name`` keeps the name a registrant typed when the public
name is the register's.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 13:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('registry_units',
    sa.Column('org_number', sa.String(length=9), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('form_code', sa.String(length=10), nullable=False),
    sa.Column('form_description', sa.String(length=200), nullable=False),
    sa.Column('municipality_number', sa.String(length=4), nullable=True),
    sa.Column('municipality', sa.String(length=100), nullable=True),
    sa.Column('in_frivillighetsregisteret', sa.Boolean(), nullable=False),
    sa.Column('bankrupt', sa.Boolean(), nullable=False),
    sa.Column('under_liquidation', sa.Boolean(), nullable=False),
    sa.Column('deleted_on', sa.Date(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('org_number', name=op.f('pk_registry_units'))
    )
    op.create_table('web_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_web_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_web_sessions_token_hash'))
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sessions_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rejected_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('stated_name', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('stated_name')
        batch_op.drop_column('rejected_at')

    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_sessions_user_id'))

    op.drop_table('web_sessions')
    op.drop_table('registry_units')
