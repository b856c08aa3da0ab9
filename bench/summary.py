"""The run's last table: every target the parts judged, with its verdict (bench/run.py).

Issue 15's done-when is "`make bench` prints every row with its verdict", and the parts
print their tables minutes apart (the 10 GiB rows last, after the key server's): so the run
ends with one table of every verdict, read from the figures the parts returned, the same
ones --json writes. A part that failed or was skipped is a row of its own, never left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stats import table

HEADERS = ["part", "row", "measured", "target", "verdict"]


def _commands(what: str, figures: dict[str, Any]) -> list[list[str]]:
    """commands.py's targets: ratios to age, and wall times of the small container."""
    rows = [
        [what, f"{key}: skipped ({size['skipped']})", "", "", ""]
        for key, size in figures.get("sizes", {}).items()
        if "skipped" in size
    ]
    for t in figures.get("targets", []):
        if "ratio" in t:
            rows.append(
                [what, t["target"], f"{t['ratio']:.2f}x", f">= {t['goal']}x", _with_reason(t)]
            )
            fair = t.get("vs_age_with_fsync")
            if fair:
                rows.append(
                    [
                        what,
                        "  the same vs age && sync (same durability)",
                        f"{fair['ratio']:.2f}x",
                        f">= {t['goal']}x",
                        _with_reason(fair),
                    ]
                )
        else:
            goal = f"<= {t['goal_s'] * 1000:.0f} ms" if "goal_s" in t else ""
            rows.append([what, t["target"], f"{t['seconds'] * 1000:.0f} ms", goal, t["verdict"]])
    counted = figures.get("small", {}).get("startup", {}).get("instructions") or {}
    if "verdict" in counted:
        rows.append(
            [
                what,
                "start-up + imports in instructions",
                f"{counted['ratio']:.2f}x the bare interpreter",
                f"<= {counted['target_ratio']:.1f}x",
                counted["verdict"],
            ]
        )
    return rows


def _with_reason(judged: dict[str, Any]) -> str:
    """A verdict and, for a disk row that missed, which side of its floor and the figures
    (commands.py, diskdevice.judge): "MISSED (below the floor: ...)"."""
    why = judged.get("verdict_reason")
    return f"{judged['verdict']} ({why})" if why else str(judged["verdict"])


def _container(what: str, figures: dict[str, Any]) -> list[list[str]]:
    return [
        [what, t["target"], t["measured"], t["goal"], t["verdict"]]
        for t in figures.get("targets", [])
    ]


def _keyserver(what: str, figures: dict[str, Any]) -> list[list[str]]:
    """Scaling (2 processes against 1, at the peaks) and the bulk suspends."""
    import scaling  # noqa: PLC0415 - the summary of a run without the key server needs none

    rows = [
        [
            what,
            f"{s['name']} / 1 process, at the peaks",
            f"{s['peak_ratio']:.2f}x",
            f">= {scaling.TARGET_SCALING}x",
            s["verdict"]
            + (f" (by CPU: {s['cpu_verdict']})" if s.get("cpu_verdict", "n/a") != "n/a" else ""),
        ]
        for s in figures.get("scaling", [])
    ]
    rows += [
        [
            what,
            f"bulk suspend of {b['containers']:,}, {b['db']}",
            f"{b['suspend_s']:.2f} s",
            f"< {b['goal_s']} s" if "goal_s" in b else "",
            b.get("verdict", "n/a"),
        ]
        for b in figures.get("suspend", [])
    ]
    return rows


def _tlog(what: str, figures: dict[str, Any]) -> list[list[str]]:
    return [
        [
            what,
            f"{name}: release rate / CPU per release",
            f"{v['rate_change']:+.1%} / {v['cpu_change']:+.1%}",
            "no worse than 10%",
            f"{v['verdict']} (judged on {v['judged_on']})",
        ]
        for name, v in figures.get("verdicts", {}).items()
    ]


_ROWS = {
    "container": _container,
    "container_big": _container,
    "commands": _commands,
    "commands_big": _commands,
    "keyserver": _keyserver,
    "tlog": _tlog,
}


def rows(results: dict[str, Any], parts: Sequence[tuple[str, str]]) -> list[list[str]]:
    """One row per verdict of the parts that ran (``parts``: key and name, in run order)."""
    out: list[list[str]] = []
    for key, what in parts:
        figures = results.get(key)
        if figures is None:
            out.append(
                [what, "(no figures: the part failed or was skipped, see above)", "", "", ""]
            )
            continue
        if figures.get("skipped"):
            out.append([what, f"(skipped: {figures['skipped']})", "", "", ""])
            continue
        out += _ROWS.get(key, lambda _what, _figures: [])(what, figures)
    return out


def show(results: dict[str, Any], parts: Sequence[tuple[str, str]]) -> None:
    """Print the table, and every writeback wait that timed out (each was said before)."""
    print("\n== Summary: every target of this run, with its verdict ==")
    print(table(HEADERS, rows(results, parts)))
    late = [k for k, w in results.get("writeback", {}).items() if w["timed_out"]]
    if late:
        print(
            "  the writeback wait timed out before: "
            + ", ".join(late)
            + " (those parts ran with earlier writes still going to the disk)"
        )
