"""offices: the communes' service points; citizens.commune_code, the commune a citizen lives
in; web_photos, photos uploaded in the web chat

Revision ID: 0010_offices
Revises: 0009_lexicon
Create Date: 2026-12-02 01:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.models

revision: str = '0010_offices'
down_revision: str | None = '0009_lexicon'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('offices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True,
              nullable=False),
    sa.Column('commune_code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('phone', sa.String(length=100), nullable=False),
    sa.Column('opening_hours', sa.Text(), nullable=False),
    sa.Column('map_url', sa.String(length=500), nullable=False),
    sa.Column('updated_at', bot.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offices')),
    sa.UniqueConstraint('commune_code', 'name', name=op.f('uq_offices_commune_code'))
    )
    with op.batch_alter_table('offices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offices_commune_code'), ['commune_code'],
                              unique=False)
    with op.batch_alter_table('citizens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('commune_code', sa.String(length=20), nullable=True))
    op.create_table('web_photos',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True,
              nullable=False),
    sa.Column('chat_id', sa.String(length=100), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', bot.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_photos'))
    )
    with op.batch_alter_table('web_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_photos_chat_id'), ['chat_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('web_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_photos_chat_id'))
    op.drop_table('web_photos')
    with op.batch_alter_table('citizens', schema=None) as batch_op:
        batch_op.drop_column('commune_code')
    with op.batch_alter_table('offices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offices_commune_code'))
    op.drop_table('offices')
