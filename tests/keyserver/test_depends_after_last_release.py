"""The "lost after" line of a report whose answer depends on the time of loss (spec §report).

Newcomers (eighteenth session) read "If it was lost before 16:34:23: Opened" and "If it
was lost at 16:35 or later: Not opened" and asked what a loss at 16:34:40 would mean. The
second line is said from the last counted key release before the time told, and the first
line too (issue 12, console45: "after 04:18:46 / before 04:18:45" left a second unsaid), so
no moment is left between the two lines.
"""

from __future__ import annotations

from typing import Any

from keyserver._domain.answers import depends_view

T1, T2, T3 = (
    "2026-12-07T07:34:23.000000Z",
    "2026-12-07T07:34:24.000000Z",
    "2026-12-07T07:36:00.000000Z",
)


def _container(
    label: str, answer: str, from_told: str, *rows: tuple[int, str, str]
) -> dict[str, Any]:
    attempts = [
        {"seq": seq, "at": at, "kind": kind, "actor": "clerk@city.example"}
        for seq, at, kind in rows
    ]
    return {
        "label": label,
        "answer": answer,
        "answer_from_told_at": from_told,
        "attempts": attempts,
    }


def test_the_second_line_starts_at_the_last_release_before_the_time_told() -> None:
    containers = [
        _container("a", "opened", "not opened", (10, T1, "release"), (12, T2, "confirmed")),
        _container("b", "possibly opened", "not opened", (11, T2, "release")),
    ]
    view = depends_view(containers, told_seq=13)
    assert view is not None
    # One boundary for both lines (console45: the first release's time in the other line
    # left the second between them unsaid).
    assert view["before"]["at"] == T2
    # The receipt of "a" came at T2 too, but a release is what is said; "b"'s is the last.
    assert view["from_told"]["at"] == T2
    assert view["from_told"]["events"] == []


def test_releases_after_the_time_told_do_not_move_the_second_line() -> None:
    containers = [
        _container("a", "opened", "possibly opened", (10, T1, "release"), (11, T1, "confirmed")),
        _container("b", "possibly opened", "possibly opened", (20, T3, "release")),
    ]
    view = depends_view(containers, told_seq=15)
    assert view is not None
    assert view["from_told"]["at"] == T1
    assert [e["label"] for e in view["from_told"]["events"]] == ["b"]


def test_no_line_when_the_time_told_changes_nothing() -> None:
    containers = [_container("a", "opened", "opened", (10, T1, "release"), (20, T3, "confirmed"))]
    assert depends_view(containers, told_seq=15) is None


def test_each_event_carries_its_containers_own_answer_on_its_side() -> None:
    """Issue 12, nineteenth session: the "before" line said the medium's Opened over "b",
    whose key was released but never confirmed. Each event carries its container's own
    answer: counted from the time of loss before the time told, from the time told after."""
    containers = [
        _container("a", "opened", "not opened", (10, T1, "release"), (11, T1, "confirmed")),
        _container(
            "b", "possibly opened", "possibly opened", (12, T2, "release"), (20, T3, "release")
        ),
    ]
    view = depends_view(containers, told_seq=15)
    assert view is not None
    assert [(e["label"], e["opened"], e["answer"]) for e in view["before"]["events"]] == [
        ("a", True, "opened"),
        ("b", False, "possibly opened"),
    ]
    assert [(e["label"], e["answer"]) for e in view["from_told"]["events"]] == [
        ("b", "possibly opened")
    ]
