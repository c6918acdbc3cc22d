"""retention: anonymised cases, draft reminders, county settings

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "county_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", storage.db.JsonText(), nullable=False),
        sa.Column("updated_at", storage.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_county_settings_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_county_settings")),
    )
    with op.batch_alter_table("consultations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("anonymised_at", storage.db.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("draft_reminded_at", storage.db.UtcDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("consultations", schema=None) as batch_op:
        batch_op.drop_column("draft_reminded_at")
        batch_op.drop_column("anonymised_at")
    op.drop_table("county_settings")
