"""Where the master key comes from: a file or an HSM, and the ``key_generations`` rows.

spec §keys-at-rest, §rotation. :func:`loader` gives the :class:`~keyserver._domain.keys.KeyRing`
its load function: read the generation rows, read the configured key (the file, or the
HSM that decrypts this generation's data key), and resolve them
(keyserver/_domain/keygen.py). Called at start-up and when a rotation adds a generation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, Engine, RowMapping, func, select
from sqlalchemy.orm import Session

from keyserver._domain import keygen
from keyserver._domain.keys import NONCE_BYTES, CarriedKeys, Generations
from keyserver._domain.settings import Settings
from keyserver._store import hsm
from keyserver._store.models import KeyGeneration


def records(conn: Connection | Session) -> list[keygen.GenerationRecord]:
    """Every ``key_generations`` row, oldest first."""
    table = KeyGeneration.__table__
    rows = conn.execute(select(*table.c).order_by(table.c.generation)).mappings()
    return [_record(row) for row in rows]


def newest_generation(session: Session) -> int:
    """The newest live generation (1 when the table is empty: a database from before)."""
    newest = session.execute(
        select(func.max(KeyGeneration.generation)).where(
            KeyGeneration.state.in_((keygen.STATE_CURRENT, keygen.STATE_NEXT))
        )
    ).scalar_one()
    return 1 if newest is None else int(newest)


def _record(row: RowMapping) -> keygen.GenerationRecord:
    def raw(name: str) -> bytes | None:
        value = row[name]
        return None if value is None else bytes(value)

    return keygen.GenerationRecord(
        generation=int(row["generation"]),
        source=str(row["source"]),
        state=str(row["state"]),
        carried=bytes(row["carried"]),
        hsm_key_label=row["hsm_key_label"],
        hsm_wrapped=raw("hsm_wrapped"),
        prior_under_this=raw("prior_under_this"),
        this_under_prior=raw("this_under_prior"),
    )


def configured_key(settings: Settings) -> keygen.ConfiguredKey:
    """The key this process is configured with (reads the file; the HSM only on use)."""
    if settings.uses_hsm:
        return keygen.ConfiguredKey(
            hsm_key_label=settings.hsm_key_label,
            hsm_decrypt=lambda label, blob, aad: hsm.decrypt(settings, label, blob, aad),
        )
    return keygen.ConfiguredKey(data_key=settings.load_master_key())


def loader(settings: Settings, engine: Engine) -> Callable[[], Generations]:
    """The load function of the server's key ring."""

    def load() -> Generations:
        with engine.connect() as conn:
            found = records(conn)
        return keygen.resolve(found, configured_key(settings))

    return load


def new_generation(
    settings: Settings,
    generation: int,
    data_key: bytes,
    carried: CarriedKeys,
    *,
    state: str,
    now: datetime,
) -> KeyGeneration:
    """The row of a new generation whose key is ``settings``' (file or HSM).

    For an HSM, ``data_key`` is encrypted by the wrapping key ``settings.hsm_key_label``
    inside the HSM; for a file, ``data_key`` is the file's content and nothing of it is
    stored.
    """
    rng = settings.rng
    wrapped = None
    label = None
    if settings.uses_hsm:
        label = settings.hsm_key_label
        aad = keygen.hsm_aad(generation)
        wrapped = hsm.encrypt(settings, label, data_key, aad, rng(NONCE_BYTES))
    return KeyGeneration(
        generation=generation,
        source=keygen.SOURCE_HSM if settings.uses_hsm else keygen.SOURCE_FILE,
        state=state,
        carried=keygen.seal_carried(data_key, generation, carried, rng),
        hsm_key_label=label,
        hsm_wrapped=wrapped,
        created_at=now,
        changed_at=now,
    )


def first_generation(settings: Settings, engine: Engine) -> None:
    """Write generation 1 at ``keyserver init`` (nothing if a generation exists).

    A key file is the data key itself (its audit key derived from it as before any
    rotation); with an HSM the data key is drawn here and stored encrypted by the HSM.
    """
    with Session(engine) as session, session.begin():
        if records(session):
            return
        data_key = (
            settings.rng(keygen.DATA_KEY_BYTES) if settings.uses_hsm else settings.load_master_key()
        )
        session.add(
            new_generation(
                settings,
                1,
                data_key,
                CarriedKeys.from_master(data_key),
                state=keygen.STATE_CURRENT,
                now=settings.clock(),
            )
        )
