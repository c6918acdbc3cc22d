"""team settings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 11:30:57.383429
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settings", storage.db.JsonText(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_column("settings")
