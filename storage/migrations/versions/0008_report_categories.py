"""report categories and indexes: why a recommendation was not implemented, as a
category; case transitions found by kind and time

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 16:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recommendations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason_category", sa.String(length=32), nullable=True))
    # Without the second, SQLite (no statistics) would look a case's own transitions up
    # through the first and scan every case's (seconds instead of milliseconds).
    op.create_index("ix_case_transitions_to_status_at", "case_transitions", ["to_status", "at"])
    op.create_index(
        "ix_case_transitions_consultation_id_to_status_at",
        "case_transitions",
        ["consultation_id", "to_status", "at"],
    )


def downgrade() -> None:
    op.drop_index("ix_case_transitions_consultation_id_to_status_at", "case_transitions")
    op.drop_index("ix_case_transitions_to_status_at", "case_transitions")
    with op.batch_alter_table("recommendations", schema=None) as batch_op:
        batch_op.drop_column("reason_category")
