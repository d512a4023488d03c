"""What a scenario returns, and how the figures become a Markdown table and JSON."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from typing import Any

import attrs

__all__ = [
    "Check",
    "Row",
    "ScenarioResult",
    "Settings",
    "markdown",
    "mebibytes",
    "micros",
    "rate",
    "to_json",
]


@attrs.frozen(kw_only=True)
class Settings:
    """How big a run is, and which CPUs the client and the server run on."""

    quick: bool
    client_cpu: int | None = None
    server_cpu: int | None = None
    load_average: float | None = None  # 1-minute load when the run began: others' work is noise


@attrs.frozen
class Check:
    """A ratio held against a target, e.g. ``SDK/raw aiohttp = 0.93 (target >= 0.80) PASS``."""

    label: str
    ratio: float
    target: float
    at_most: bool = False  # the ratio must stay below the target instead of reaching it

    @property
    def passed(self) -> bool:
        return self.ratio <= self.target if self.at_most else self.ratio >= self.target

    def __str__(self) -> str:
        sign = "<=" if self.at_most else ">="
        mark = "PASS" if self.passed else "BELOW"
        return f"{self.label} = {self.ratio:.2f} (target {sign} {self.target:.2f}) {mark}"


@attrs.frozen
class Row:
    """One line of the table: what was measured, the figure, and its comparison if any."""

    subject: str
    figure: str
    comparison: str = ""


@attrs.frozen(kw_only=True)
class ScenarioResult:
    """A scenario's figures (for JSON), its table rows, and the targets it is held to."""

    name: str
    title: str
    figures: dict[str, float]
    rows: Sequence[Row]
    checks: Sequence[Check] = ()
    notes: Sequence[str] = ()


def markdown(results: Sequence[ScenarioResult]) -> str:
    """All results as one Markdown table, then any notes."""
    lines = ["| Scenario | Subject | Figure | Comparison |", "|---|---|---|---|"]
    for result in results:
        for index, row in enumerate(result.rows):
            title = result.title if index == 0 else ""
            lines.append(f"| {title} | {row.subject} | {row.figure} | {row.comparison} |")
    notes = [f"- {result.name}: {note}" for result in results for note in result.notes]
    return "\n".join(lines + (["", *notes] if notes else []))


def to_json(results: Sequence[ScenarioResult], settings: Settings) -> dict[str, Any]:
    """The same figures as a JSON-ready dict, keyed by scenario name."""
    return {
        "meta": {
            "quick": settings.quick,
            "python": sys.version.split()[0],
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "client_cpu": settings.client_cpu,
            "server_cpu": settings.server_cpu,
            "load_average_at_start": settings.load_average,
        },
        "scenarios": {
            result.name: {
                "title": result.title,
                "figures": result.figures,
                "checks": [
                    {
                        "label": check.label,
                        "ratio": check.ratio,
                        "target": check.target,
                        "at_most": check.at_most,
                        "passed": check.passed,
                        "text": str(check),
                    }
                    for check in result.checks
                ],
                "notes": list(result.notes),
            }
            for result in results
        },
    }


def rate(value: float) -> str:
    """``12,345/s``."""
    return f"{value:,.0f}/s"


def micros(seconds: float) -> str:
    """Seconds as ``123.4 us``."""
    return f"{seconds * 1e6:,.1f} us"


def mebibytes(size: float) -> str:
    return f"{size / 2**20:,.2f} MiB"
