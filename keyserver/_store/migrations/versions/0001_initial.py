"""Initial schema: principals, tokens, containers, challenges, audit chain.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from keyserver._store.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "principals",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("organisation", sa.String(200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "principal_roles",
        sa.Column(
            "principal_id",
            sa.Integer(),
            sa.ForeignKey("principals.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("role", sa.String(16), primary_key=True),
    )
    op.create_table(
        "principal_groups",
        sa.Column(
            "principal_id",
            sa.Integer(),
            sa.ForeignKey("principals.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("group_name", sa.String(64), primary_key=True),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "principal_id",
            sa.Integer(),
            sa.ForeignKey("principals.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "containers",
        sa.Column("id", sa.LargeBinary(16), primary_key=True),
        sa.Column("label", sa.String(200), nullable=False, index=True),
        # The medium is optional (rwc seal [--medium]); medium-scoped actions skip NULLs.
        sa.Column("medium", sa.String(200), nullable=True),
        sa.Column(
            "issuer_id", sa.Integer(), sa.ForeignKey("principals.id"), nullable=False, index=True
        ),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("seed_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("receipt_key_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("header_digest", sa.LargeBinary(32), nullable=True),
        sa.Column("password_required", sa.Boolean(), nullable=False),
        sa.Column("attempt_budget", sa.Integer(), nullable=False),
        sa.Column("unconfirmed", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("pending_expires_at", UTCDateTime(), nullable=True),
        sa.Column("activated_at", UTCDateTime(), nullable=True),
        sa.Column("not_after", UTCDateTime(), nullable=True),
        sa.Column("suspended_at", UTCDateTime(), nullable=True),
        sa.Column("destroyed_at", UTCDateTime(), nullable=True),
        sa.Column("destroy_after", UTCDateTime(), nullable=True),
        sa.Column("loss_reported_at", UTCDateTime(), nullable=True),
        sa.Column("last_confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("changed_by", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("public_reason", sa.Text(), nullable=True),
        sa.Column("last_audit_seq", sa.Integer(), nullable=True),
    )
    op.create_index("ix_containers_medium", "containers", ["medium"])
    if op.get_bind().dialect.name == "postgresql":
        # Half of each page stays free, so a bulk state change (suspending every container
        # of a lost medium) can write each new row version beside the old one as a HOT
        # update: no entry in any index (none covers the changed columns). Measured here
        # on 100,000 rows: 1.1 s instead of 4.5-6.3 s. SQLite rewrites rows in place.
        op.execute("ALTER TABLE containers SET (fillfactor = 50)")
    op.create_table(
        "container_readers",
        sa.Column(
            "container_id",
            sa.LargeBinary(16),
            sa.ForeignKey("containers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("name", sa.String(64), primary_key=True),
    )
    op.create_table(
        "container_reader_groups",
        sa.Column(
            "container_id",
            sa.LargeBinary(16),
            sa.ForeignKey("containers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("group_name", sa.String(64), primary_key=True),
    )
    op.create_table(
        "challenges",
        sa.Column("challenge_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column(
            "container_id",
            sa.LargeBinary(16),
            sa.ForeignKey("containers.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "principal_id",
            sa.Integer(),
            sa.ForeignKey("principals.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("consumed_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("container", sa.String(22), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("remote", sa.String(64), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_index("ix_audit_container_seq", "audit_log", ["container", "seq"])
    op.create_index("ix_audit_actor_seq", "audit_log", ["actor", "seq"])
    op.create_index("ix_audit_action_seq", "audit_log", ["action", "seq"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    # The genesis head: seq 0, all-zero hash (the first entry's prev_hash).
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": b"\x00" * 32}])


def downgrade() -> None:
    for table in (
        "audit_head",
        "audit_log",
        "challenges",
        "container_reader_groups",
        "container_readers",
        "containers",
        "tokens",
        "principal_groups",
        "principal_roles",
        "principals",
    ):
        op.drop_table(table)
