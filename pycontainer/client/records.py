"""What `rwc seal` and `rwc login` exchange with the key server: register, whoami.

Apart from pycontainer.client.wire, whose answers every run reads: a reader's `rwc cat`
imports the client, and creating these three classes cost its start-up ~2 M instructions
for requests it never makes (issue 15, bench/profiles/startup.md;
tests/cli/test_lazy_imports.py). pycontainer.client.keyserver still offers them by name.

Spec anchors: spec/protocol.md §register, §whoami.
"""

from datetime import datetime

from pycontainer._record import Record

# Records, not frozen dataclasses: on Python 3.11 creating a frozen dataclass costs ~3.7 M
# instructions (~1 ms), a NamedTuple ~0.6 M, a record ~0.1 M (pycontainer/_record.py; issue
# 15, figures in bench/profiles/startup.md). All three are immutable and compare by value.


class Policy(Record):
    """What the writer asks the server to enforce for a new container (spec §register).

    Attributes:
        readers: Principal names allowed to open it.
        reader_groups: Groups whose members may open it.
        label: Free text shown to officials (e.g. the export's name).
        medium: Identifier of the medium it is written to (for loss reports).
        not_after: Expiry (timezone-aware), or None for no expiry.
        password_required: Whether a password is part of the key (informational for the server).
        attempt_budget: How many evaluations the server allows, or None for no limit.
        people: How many people's personal data it holds, as the writer declares (shown
            to officials and in the medium report), or None: not declared.
    """

    readers: tuple[str, ...] = ()
    reader_groups: tuple[str, ...] = ()
    label: str | None = None
    medium: str | None = None
    not_after: datetime | None = None
    password_required: bool = True
    attempt_budget: int | None = None
    people: int | None = None


class Registration(Record):
    """The server's answer to register (spec §register).

    Attributes:
        container_id: 16 bytes chosen by the server.
        public_key: The container's VOPRF public key (32 bytes).
        server_id: The server's identifier.
        pending_expires_at: When the pending registration lapses unless committed.
    """

    container_id: bytes
    public_key: bytes
    server_id: str
    pending_expires_at: str | None = None


class Identity(Record):
    """Who the token belongs to (spec §whoami)."""

    name: str
    roles: tuple[str, ...] = ()
    organisation: str | None = None
    groups: tuple[str, ...] = ()
