"""Master-key generations: the HSM and online master-key rotation.

spec §keys-at-rest, §rotation (issue 14). Adds ``key_generations`` (one row per master
key: file or HSM, its state, the carried keys sealed under it, and the bridges of a
rotation under way) and ``containers.key_generation``, the generation a row's sealed
secrets are under. Existing rows are generation 1: the master key they were sealed with.
A database without a generation row is read as one file-based generation 1 (its audit
key derived from the key file as before); ``keyserver init`` and the first rotation write
the row.

Revision ID: 0011_key_generations
Revises: 0010_approvals
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from keyserver._store.models import UTCDateTime

revision = "0011_key_generations"
down_revision = "0010_approvals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_generations",
        sa.Column("generation", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("carried", sa.LargeBinary(), nullable=False),
        sa.Column("hsm_key_label", sa.String(200), nullable=True),
        sa.Column("hsm_wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("prior_under_this", sa.LargeBinary(), nullable=True),
        sa.Column("this_under_prior", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
    )
    with op.batch_alter_table("containers") as batch:
        batch.add_column(
            sa.Column("key_generation", sa.Integer(), nullable=False, server_default="1")
        )
    # The rotation looks up the rows still under an older generation, batch by batch.
    op.create_index("ix_containers_key_generation", "containers", ["key_generation"])


def downgrade() -> None:
    op.drop_index("ix_containers_key_generation", table_name="containers")
    with op.batch_alter_table("containers") as batch:
        batch.drop_column("key_generation")
    op.drop_table("key_generations")
