"""end case-manager assignments of finished cases: closing a case did not end its
assignment, so `asiakkaat` read the oldest assignments, all of closed cases; an index
for a team's queue

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# consultations.consultation.FINISHED, as it stands now (a migration keeps its own copy).
FINISHED = ("closed", "declined", "withdrawn", "cancelled")


def upgrade() -> None:
    op.create_index(
        "ix_consultations_queue",
        "consultations",
        ["team_id", "status", "submitted_at", "created_at"],
    )
    # The assignment ends when the case reached the status it ended in; a case without
    # that transition (none should be) ends at its last update.
    op.execute(
        sa.text(
            """
            UPDATE case_managers SET "until" = (
                SELECT coalesce(
                    (
                        SELECT max(t.at) FROM case_transitions t
                        WHERE t.consultation_id = c.id AND t.to_status = c.status
                    ),
                    c.updated_at
                )
                FROM consultations c
                WHERE c.id = case_managers.consultation_id
            )
            WHERE "until" IS NULL
            AND consultation_id IN (
                SELECT id FROM consultations WHERE status IN :finished
            )
            """
        ).bindparams(sa.bindparam("finished", FINISHED, expanding=True))
    )


def downgrade() -> None:
    # Which assignments this ended cannot be told from the data afterwards, and an ended
    # assignment of a finished case is right under the old code too: nothing to undo.
    op.drop_index("ix_consultations_queue", "consultations")
