"""staff groups: the Telegram staff group a ticket was put in (one per commune or the
province-wide one, TELEGRAM_STAFF_CHATS)

Revision ID: 0012_staff_groups
Revises: 0011_desk
Create Date: 2026-12-03 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012_staff_groups'
down_revision: str | None = '0011_desk'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL on tickets placed before: they are in the province-wide group (TELEGRAM_STAFF_CHAT_ID).
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('staff_chat_id', sa.String(length=30), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('staff_chat_id')
