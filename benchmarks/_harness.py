"""Rows, bars, statistics, the alternating timer and the results table."""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

#: Runs ``n`` operations and returns the elapsed nanoseconds (it times itself,
#: so that set-up such as starting an event loop stays outside the measurement).
Timed = Callable[[int], int]

Status = Literal["met", "MISSED", "info", "n/a"]


@dataclass(frozen=True)
class Settings:
    """How hard to try: ``--quick`` scales every count down."""

    quick: bool
    #: Multiplies the number of rounds (``--rounds-scale``), for a longer, steadier run.
    rounds_scale: float = 1.0

    def rounds(self, full: int, quick: int) -> int:
        return max(1, round((quick if self.quick else full) * self.rounds_scale))

    def count(self, full: int, quick: int) -> int:
        return quick if self.quick else full


@dataclass(frozen=True)
class Bar:
    """What a row must reach.

    ``kind="ratio"``: the median of the paired ratios is at most ``limit``.
    ``kind="value"``: the statistic ``stat`` of the row's values is at most ``limit``.
    ``kind="exact"``: every value equals ``limit``.
    """

    kind: Literal["ratio", "value", "exact"]
    limit: float
    stat: Literal["median", "max"] = "median"

    def describe(self, unit: str) -> str:
        if self.kind == "ratio":
            return f"<= {self.limit:g}x"
        if self.kind == "exact":
            return f"== {self.limit:g} every run"
        where = "" if self.stat == "median" else f" ({self.stat})"
        return f"<= {self.limit:g} {unit}{where}"


@dataclass
class Row:
    """One line of the table: our values, a baseline's, and their paired ratios."""

    figure: int
    name: str
    unit: str
    values: list[float] = field(default_factory=list)
    baseline: str | None = None
    baseline_values: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    bar: Bar | None = None
    note: str = ""
    available: bool = True
    #: Problems that make the row miss its bar whatever the values (failed requests).
    failures: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return statistics.median(self.ratios) if self.ratios else None

    @property
    def status(self) -> Status:
        if not self.available:
            return "n/a"
        if self.bar is None:
            return "info"
        if self.failures:
            return "MISSED"
        if self.bar.kind == "ratio":
            ratio = self.ratio
            return "met" if ratio is not None and ratio <= self.bar.limit else "MISSED"
        if not self.values:
            return "MISSED"
        if self.bar.kind == "exact":
            return "met" if all(v == self.bar.limit for v in self.values) else "MISSED"
        value = statistics.median(self.values) if self.bar.stat == "median" else max(self.values)
        return "met" if value <= self.bar.limit else "MISSED"

    def as_json(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "name": self.name,
            "unit": self.unit,
            "values": self.values,
            "summary": summary(self.values),
            "baseline": self.baseline,
            "baseline_values": self.baseline_values,
            "baseline_summary": summary(self.baseline_values),
            "ratios": self.ratios,
            "ratio_median": self.ratio,
            "bar": self.bar.describe(self.unit) if self.bar else None,
            "status": self.status,
            "note": self.note,
            "failures": self.failures,
            **({"extra": self.extra} if self.extra else {}),
        }


def unavailable(figure: int, name: str, reason: str) -> Row:
    """A row for something that cannot be measured here (a missing package, say)."""
    return Row(figure, name, "", note=reason, available=False)


def summary(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def paired_ratios(values: Sequence[float], baseline: Sequence[float]) -> list[float]:
    return [a / b for a, b in zip(values, baseline, strict=False) if b > 0]


def alternate(
    contenders: Mapping[str, Timed],
    *,
    rounds: int,
    n: int,
    warmup: int,
    collect: bool = True,
    budget: float | None = None,
) -> dict[str, list[float]]:
    """Time every contender ``rounds`` times, ``n`` operations each; ns per operation.

    The order rotates every round (A B C, B C A, C A B, ...), so each contender
    runs in every position and slow drift of the machine hits all alike. The
    garbage collector is collected before and disabled during each timed run,
    the same for every contender. ``budget`` (seconds) ends the rounds early,
    keeping at least two, if the machine is much slower than expected.
    """
    names = list(contenders)
    for name in names:
        contenders[name](warmup)
    results: dict[str, list[float]] = {name: [] for name in names}
    started = time.monotonic()
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            if collect:
                gc.collect()
            gc.disable()
            try:
                elapsed = contenders[name](n)
            finally:
                gc.enable()
            results[name].append(elapsed / n)
        if budget is not None and index >= 1 and time.monotonic() - started > budget:
            break
    return results


def compared(
    figure: int,
    results: Mapping[str, list[float]],
    baseline: str,
    *,
    unit: str,
    scale: float,
    bars: Mapping[str, Bar] | None = None,
    names: Mapping[str, str] | None = None,
    notes: Mapping[str, str] | None = None,
) -> list[Row]:
    """Rows for every contender of :func:`alternate` against ``baseline``."""
    base = [v / scale for v in results[baseline]]
    rows = []
    for key, values in results.items():
        if key == baseline:
            continue
        mine = [v / scale for v in values]
        rows.append(
            Row(
                figure,
                (names or {}).get(key, key),
                unit,
                mine,
                baseline,
                base,
                paired_ratios(mine, base),
                (bars or {}).get(key),
                (notes or {}).get(key, ""),
            )
        )
    return rows


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ``ys`` over ``xs`` (0 for fewer than two points)."""
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


# -- the table ------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1 or magnitude == 0:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _triple(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return " / ".join(_fmt(v) for v in (min(values), statistics.median(values), max(values)))


HEADERS = ("#", "figure", "unit", "ours min / med / max", "baseline med", "ratio", "bar", "status")


def table_cells(row: Row) -> tuple[str, ...]:
    if not row.available:
        return (str(row.figure), row.name, "", "not available", "", "", "", row.status)
    base = _fmt(statistics.median(row.baseline_values)) if row.baseline_values else "-"
    ratio = f"{row.ratio:.3f}x" if row.ratio is not None else "-"
    bar = row.bar.describe(row.unit) if row.bar else "-"
    return (
        str(row.figure),
        row.name,
        row.unit,
        _triple(row.values),
        base,
        ratio,
        bar,
        row.status,
    )


def render_text(rows: Iterable[Row]) -> str:
    """A fixed-width table for the terminal, with the notes below it."""
    rows = list(rows)
    cells = [HEADERS, *(table_cells(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADERS))]
    lines = []
    for index, line in enumerate(cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"  [{r.figure}] {r.name}: {r.note}" for r in rows if r.note]
    if notes:
        lines += ["", "notes:", *notes]
    return "\n".join(lines)


def render_markdown(rows: Iterable[Row]) -> str:
    """The same table as GitHub-flavoured Markdown (for docs/performance.md)."""
    out = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for row in rows:
        cells = [c.replace("|", "\\|") for c in table_cells(row)]
        if row.status == "MISSED":
            cells[-1] = "**MISSED**"
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)
