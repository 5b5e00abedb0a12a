"""floods: one survey answer per chat and subject (and day, for general ratings)

Revision ID: 0006_floods
Revises: 0005
Create Date: 2026-12-01 23:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008_floods'
down_revision: str | None = '0007_lookup_security'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dedupe_key', sa.String(length=120), nullable=True))
        batch_op.create_index('ux_surveys_dedupe_key', ['dedupe_key'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_index('ux_surveys_dedupe_key')
        batch_op.drop_column('dedupe_key')
