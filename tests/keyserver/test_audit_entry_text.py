"""The release batch's entry text equals the spec's canonical JSON of the entry (spec §audit).

keyserver/_store/audit.py ``entry_text`` writes the canonical JSON of an entry directly
(no document built and re-encoded) for appends under the chain-head lock, and the
readers (``audit verify``, the transparency follower) encode stored rows with it too
(``audit_verify.verified_text``). Any difference from ``canonical_json`` would make every
release entry fail verification and every leaf differ from the spec's, so they are
compared here on arbitrary text, including non-ASCII, quotes and control characters (not
lone surrogates, which no column can hold).
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from keyserver._domain.encoding import format_time
from keyserver._store.audit import canonical_json, entry_text, row_document

_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
_DETAILS = st.dictionaries(
    _TEXT, st.one_of(st.none(), st.booleans(), st.integers(), _TEXT), max_size=5
)


@given(
    seq=st.integers(min_value=1, max_value=2**63 - 1),
    at=st.datetimes(timezones=st.just(UTC), min_value=datetime(1970, 1, 2)),
    actor=_TEXT,
    action=_TEXT,
    container=st.one_of(st.none(), _TEXT),
    outcome=_TEXT,
    remote=st.one_of(st.none(), _TEXT),
    details=_DETAILS,
)
def test_entry_text_is_the_canonical_json_of_the_document(
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    container: str | None,
    outcome: str,
    remote: str | None,
    details: dict[str, object],
) -> None:
    text = canonical_json(details)
    document = row_document(seq, at, actor, action, container, outcome, remote, text)
    expected = canonical_json(document)
    assert (
        entry_text(seq, format_time(at), actor, action, container, outcome, remote, text)
        == expected
    )
