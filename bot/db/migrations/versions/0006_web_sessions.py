"""web_sessions: server-side web-chat sessions (signed cookie -> chat), rotated and expired

Revision ID: 0006_web_sessions
Revises: 0005
Create Date: 2026-12-01 22:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.models

revision: str = '0006_web_sessions'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('web_sessions',
    sa.Column('sid_hash', sa.String(length=64), nullable=False),
    sa.Column('chat_id', sa.String(length=100), nullable=False),
    sa.Column('created_at', bot.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', bot.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sid_hash', name=op.f('pk_web_sessions'))
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sessions_chat_id'), ['chat_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_web_sessions_last_seen_at'), ['last_seen_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_sessions_last_seen_at'))
        batch_op.drop_index(batch_op.f('ix_web_sessions_chat_id'))

    op.drop_table('web_sessions')
