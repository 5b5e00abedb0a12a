"""desk: staff accounts and sessions for the web desk; the commune of a ticket

Revision ID: 0011_desk
Revises: 0010_offices
Create Date: 2026-12-02 02:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.models

revision: str = '0011_desk'
down_revision: str | None = '0010_offices'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('staff_accounts',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=60), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('communes', sa.JSON(), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', bot.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', bot.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('password_changed_at', bot.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', bot.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_accounts')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_accounts_username'))
    )
    op.create_table('staff_sessions',
    sa.Column('sid_hash', sa.String(length=64), nullable=False),
    sa.Column('account_id', Id, nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', bot.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', bot.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['staff_accounts.id'],
                            name=op.f('fk_staff_sessions_account_id_staff_accounts'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sid_hash', name=op.f('pk_staff_sessions'))
    )
    with op.batch_alter_table('staff_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_sessions_account_id'), ['account_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_staff_sessions_last_seen_at'), ['last_seen_at'],
                              unique=False)
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('commune_code', sa.String(length=20), nullable=True))
        batch_op.create_index(batch_op.f('ix_tickets_commune_code'), ['commune_code'],
                              unique=False)
    # Tickets already about a dossier of one commune belong to that commune.
    op.execute(
        "UPDATE tickets SET commune_code = (SELECT MIN(d.commune_code) FROM dossiers d "
        "WHERE d.code = UPPER(tickets.dossier_code) AND d.commune_code IS NOT NULL "
        "HAVING COUNT(DISTINCT d.commune_code) = 1) WHERE dossier_code IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_commune_code'))
        batch_op.drop_column('commune_code')
    with op.batch_alter_table('staff_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_sessions_last_seen_at'))
        batch_op.drop_index(batch_op.f('ix_staff_sessions_account_id'))
    op.drop_table('staff_sessions')
    op.drop_table('staff_accounts')
