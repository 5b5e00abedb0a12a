"""lookup security: failed dossier lookups pseudonymised and counted per code and address;
code locks

The old failure rows held raw chat ids and cannot be turned into keyed hashes here (the key
is the service's SECRET_KEY), so the table is recreated: at most the last 15 minutes of
per-chat throttling are forgotten once, at this upgrade.

Revision ID: 0006_lookup_security
Revises: 0005
Create Date: 2026-12-01 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.models

revision: str = '0007_lookup_security'
down_revision: str | None = '0006_web_sessions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _failures_v1() -> None:
    op.create_table('dossier_lookup_failures',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('chat_id', sa.String(length=100), nullable=False),
    sa.Column('at', bot.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_lookup_failures'))
    )
    with op.batch_alter_table('dossier_lookup_failures', schema=None) as batch_op:
        batch_op.create_index('ix_dossier_lookup_failures_chat', ['channel', 'chat_id', 'at'], unique=False)


def upgrade() -> None:
    with op.batch_alter_table('dossier_lookup_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_lookup_failures_chat')
    op.drop_table('dossier_lookup_failures')

    op.create_table('dossier_lookup_failures',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('chat_key', sa.String(length=64), nullable=False),
    sa.Column('code_key', sa.String(length=60), nullable=False),
    sa.Column('origin_key', sa.String(length=64), nullable=True),
    sa.Column('at', bot.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_lookup_failures'))
    )
    with op.batch_alter_table('dossier_lookup_failures', schema=None) as batch_op:
        batch_op.create_index('ix_dossier_lookup_failures_chat', ['chat_key', 'at'], unique=False)
        batch_op.create_index('ix_dossier_lookup_failures_code', ['code_key', 'at'], unique=False)
        batch_op.create_index('ix_dossier_lookup_failures_origin', ['origin_key', 'at'], unique=False)
        batch_op.create_index('ix_dossier_lookup_failures_at', ['at'], unique=False)

    op.create_table('dossier_lookup_locks',
    sa.Column('code_key', sa.String(length=60), nullable=False),
    sa.Column('locked_at', bot.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('until', bot.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('code_key', name=op.f('pk_dossier_lookup_locks'))
    )
    with op.batch_alter_table('dossier_lookup_locks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dossier_lookup_locks_until'), ['until'], unique=False)

    # the retention purge deletes by age
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_created_at', ['created_at'], unique=False)
    with op.batch_alter_table('web_messages', schema=None) as batch_op:
        batch_op.create_index('ix_web_messages_created_at', ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('web_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_web_messages_created_at')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_created_at')
    with op.batch_alter_table('dossier_lookup_locks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dossier_lookup_locks_until'))
    op.drop_table('dossier_lookup_locks')
    with op.batch_alter_table('dossier_lookup_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_lookup_failures_at')
        batch_op.drop_index('ix_dossier_lookup_failures_origin')
        batch_op.drop_index('ix_dossier_lookup_failures_code')
        batch_op.drop_index('ix_dossier_lookup_failures_chat')
    op.drop_table('dossier_lookup_failures')
    _failures_v1()
