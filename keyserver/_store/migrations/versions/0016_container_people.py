"""How many people's personal data a container holds, as its writer declared (issue 12).

Adds ``containers.people``: the press's first question after a loss is "what data, and how
many residents?", and the writer (the contractor) knows the count when sealing an export.
Informational (spec §endpoints): nothing is decided on it, so the row MAC does not cover it
(spec §row-integrity). NULL for every container registered before this revision and for
every registration that does not declare it: the medium report then says nothing, never 0.

Revision ID: 0016_container_people
Revises: 0015_challenges_by_container
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_container_people"
down_revision = "0015_challenges_by_container"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("containers", sa.Column("people", sa.Integer(), nullable=True))


def downgrade() -> None:
    # A plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not a batch copy: on SQLite a
    # batch copy drops the old table, which cascades every container's reader policy away.
    op.drop_column("containers", "people")
