"""Challenges keyed by (container, hash); the index on their container alone dropped.

Why (issue 15): every key release inserts one challenge. With the hash as the key and a
separate index on ``container_id``, that insert wrote two b-trees at a random place
(on SQLite ~1 WAL page each per release, a batch of 16 about 13 of its ~62 pages on the
container index alone: bench/profiles/keyserver.md, seventeenth session). A receipt
names its container, so the key (container_id, challenge_hash) serves the lookup by
challenge, and its first column the count of a container's challenges of one instant
(the budget-suspension receipt) and the cascade from ``containers``: one b-tree fewer.
A challenge is 32 random bytes: unique per container is unique. Existing rows are kept.

Revision ID: 0015_challenges_by_container
Revises: 0014_told_at
Create Date: 2026-12-07
"""

from __future__ import annotations

import warnings

from alembic import op
from sqlalchemy import exc as sa_exc

revision = "0015_challenges_by_container"
down_revision = "0014_told_at"
branch_labels = None
depends_on = None

# PostgreSQL's name for the table's key (unnamed in 0001: "<table>_pkey" either way).
_PKEY = "challenges_pkey"
_KEY_REPLACED = r"Table '_alembic_tmp_challenges' specifies columns .* as primary_key=True"


def upgrade() -> None:
    _rekey(("container_id", "challenge_hash"), index=False)


def downgrade() -> None:
    _rekey(("challenge_hash",), index=True)


def _rekey(key: tuple[str, ...], *, index: bool) -> None:
    """Make ``key`` the table's primary key; create or drop ``ix_challenges_container_id``."""
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot change a table's key in place: batch mode copies the table. The
        # copy's columns come reflected with the old key's flags, which the new key
        # replaces: SQLAlchemy warns about exactly that replacement, which is the point.
        with (
            warnings.catch_warnings(),
            op.batch_alter_table("challenges", recreate="always") as batch,
        ):
            warnings.filterwarnings("ignore", _KEY_REPLACED, sa_exc.SAWarning)
            batch.create_primary_key(_PKEY, list(key))
            if index:
                batch.create_index("ix_challenges_container_id", ["container_id"])
            else:
                batch.drop_index("ix_challenges_container_id")
        return
    op.drop_constraint(_PKEY, "challenges", type_="primary")
    op.create_primary_key(_PKEY, "challenges", list(key))
    if index:
        op.create_index("ix_challenges_container_id", "challenges", ["container_id"])
    else:
        op.drop_index("ix_challenges_container_id", table_name="challenges")
