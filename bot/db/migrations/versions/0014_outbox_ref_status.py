"""outbox ref status: the index on `ref` also orders each ref's rows by status, so the notice
desk's round finds whether a notice still has rows waiting without counting all of them

Revision ID: 0014_outbox_ref_status
Revises: 0013_staff_totp
Create Date: 2026-12-03 04:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0014_outbox_ref_status'
down_revision: str | None = '0013_staff_totp'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_ref_status', ['ref', 'status'], unique=False)
        batch_op.drop_index(batch_op.f('ix_outbox_ref'))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_ref'), ['ref'], unique=False)
        batch_op.drop_index('ix_outbox_ref_status')
