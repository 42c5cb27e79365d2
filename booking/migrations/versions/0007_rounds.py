"""rounds (SPEC §14): application rounds, applications with ranked wishes, allocations and offers

``rounds`` with ``round_rooms``; ``applications`` (an organisation's own ``rank`` is unique per
round among applications not withdrawn: a withdrawn one has rank NULL, and NULLs never clash)
with ``application_wishes`` (room, weekday, local minutes); ``allocations``, one per application
per allocation run, with the explanation and, once published, the offer's state and the series
an accepted offer became.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 14:17:53.270448

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rounds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('season_start', sa.Date(), nullable=False),
    sa.Column('season_end', sa.Date(), nullable=False),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('publish_on', sa.Date(), nullable=False),
    sa.Column('offer_deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seed', sa.String(length=64), nullable=False),
    sa.Column('allocated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('closes_at > opens_at', name=op.f('ck_rounds_window_closes_after_opening')),
    sa.CheckConstraint('length(name) > 0', name=op.f('ck_rounds_name_not_empty')),
    sa.CheckConstraint('length(seed) >= 16', name=op.f('ck_rounds_seed_long_enough')),
    sa.CheckConstraint('offer_deadline > closes_at', name=op.f('ck_rounds_deadline_after_window')),
    sa.CheckConstraint('season_end >= season_start', name=op.f('ck_rounds_season_ends_after_start')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rounds'))
    )
    op.create_table('applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('attendees', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('children_youth', sa.Boolean(), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('attendees >= 1', name=op.f('ck_applications_attendees_positive')),
    sa.CheckConstraint('rank IS NULL OR rank >= 1', name=op.f('ck_applications_rank_positive')),
    sa.CheckConstraint('withdrawn_at IS NULL OR rank IS NULL', name=op.f('ck_applications_withdrawn_has_no_rank')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_applications_organization_id_organizations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], name=op.f('fk_applications_round_id_rounds'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_applications_submitted_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applications')),
    sa.UniqueConstraint('round_id', 'organization_id', 'rank', name='uq_applications_round_org_rank')
    )
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_applications_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_round_id'), ['round_id'], unique=False)

    op.create_table('application_wishes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('room_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('start_minute', sa.Integer(), nullable=False),
    sa.Column('end_minute', sa.Integer(), nullable=False),
    sa.CheckConstraint('position >= 1 AND position <= 3', name=op.f('ck_application_wishes_position_range')),
    sa.CheckConstraint('weekday >= 0 AND weekday <= 6 AND start_minute >= 0 AND end_minute <= 1440 AND end_minute > start_minute', name=op.f('ck_application_wishes_weekly_time')),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_application_wishes_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_application_wishes_room_id_rooms'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application_wishes')),
    sa.UniqueConstraint('application_id', 'position', name='uq_application_wishes_application_position')
    )
    op.create_table('round_rooms',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('room_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_round_rooms_room_id_rooms'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], name=op.f('fk_round_rooms_round_id_rounds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('round_id', 'room_id', name=op.f('pk_round_rooms'))
    )
    with op.batch_alter_table('round_rooms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_round_rooms_room_id'), ['room_id'], unique=False)

    op.create_table('allocations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('wish_position', sa.Integer(), nullable=True),
    sa.Column('room_id', sa.Integer(), nullable=True),
    sa.Column('weekday', sa.Integer(), nullable=True),
    sa.Column('start_minute', sa.Integer(), nullable=True),
    sa.Column('end_minute', sa.Integer(), nullable=True),
    sa.Column('explanation', sa.JSON(), nullable=False),
    sa.Column('order_index', sa.Integer(), nullable=False),
    sa.Column('pass_number', sa.Integer(), nullable=False),
    sa.Column('manual', sa.Boolean(), nullable=False),
    sa.Column('offer_state', sa.String(length=10), nullable=True),
    sa.Column('series_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("offer_state IS NULL OR (room_id IS NOT NULL AND offer_state IN ('offered', 'accepted', 'declined', 'lapsed'))", name=op.f('ck_allocations_offer_state_known')),
    sa.CheckConstraint("series_id IS NULL OR offer_state = 'accepted'", name=op.f('ck_allocations_series_only_accepted')),
    sa.CheckConstraint('(room_id IS NULL AND weekday IS NULL AND start_minute IS NULL AND end_minute IS NULL AND wish_position IS NULL) OR (room_id IS NOT NULL AND weekday >= 0 AND weekday <= 6 AND start_minute >= 0 AND end_minute <= 1440 AND end_minute > start_minute)', name=op.f('ck_allocations_time_given_whole')),
    sa.CheckConstraint('order_index >= 0 AND pass_number >= 1', name=op.f('ck_allocations_order_sane')),
    sa.CheckConstraint('wish_position IS NULL OR (wish_position >= 1 AND wish_position <= 3)', name=op.f('ck_allocations_wish_known')),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_allocations_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_allocations_organization_id_organizations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_allocations_room_id_rooms'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], name=op.f('fk_allocations_round_id_rounds'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['series_id'], ['series.id'], name=op.f('fk_allocations_series_id_series'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_allocations')),
    sa.UniqueConstraint('application_id', name=op.f('uq_allocations_application_id'))
    )
    with op.batch_alter_table('allocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_allocations_round_id'), ['round_id'], unique=False)



def downgrade():
    with op.batch_alter_table('allocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_allocations_round_id'))

    op.drop_table('allocations')
    with op.batch_alter_table('round_rooms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_round_rooms_room_id'))

    op.drop_table('round_rooms')
    op.drop_table('application_wishes')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_applications_round_id'))
        batch_op.drop_index(batch_op.f('ix_applications_organization_id'))

    op.drop_table('applications')
    op.drop_table('rounds')
