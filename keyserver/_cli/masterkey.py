"""The master key on the command line: an HSM at ``init`` (spec §keys-at-rest).

``keyserver init --hsm-module LIB --hsm-token-label TOKEN [--hsm-key-label LABEL]`` with
the PIN in ``KEYSERVER_HSM_PIN`` or ``--hsm-pin-file``: creates the wrapping key in the
token when it has none of that label (one made by the HSM's own tools is used as it is),
then generation 1 of the database, whose data key the HSM encrypts.
"""

from __future__ import annotations

from keyserver._cli.context import Context
from keyserver._domain.i18n import N_
from keyserver._domain.settings import Settings
from keyserver._store import hsm, keystore
from keyserver._store.engine import make_engine


def prepare_hsm(ctx: Context, settings: Settings) -> None:
    """Create the HSM wrapping key unless the token has one of that label."""
    if not settings.uses_hsm:
        return
    label = settings.hsm_key_label
    if hsm.has_key(settings, label):
        ctx.out.note(
            N_(
                "using the HSM key %(label)s of token %(token)s",
                label=repr(label),
                token=repr(settings.hsm_token_label),
            )
        )
        return
    hsm.create_wrapping_key(settings, label)
    ctx.out.note(
        N_(
            "created the HSM key %(label)s in token %(token)s (AES-256, never extractable)",
            label=repr(label),
            token=repr(settings.hsm_token_label),
        )
    )


def first_generation(settings: Settings) -> None:
    """Record generation 1 of the master key in the new database."""
    engine = make_engine(settings)
    try:
        keystore.first_generation(settings, engine)
    finally:
        engine.dispose()
