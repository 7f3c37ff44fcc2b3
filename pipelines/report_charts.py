"""Inline SVG charts for the compliance report: no script, no font and nothing fetched, so they print as shown.

    columns(["11-24", "11-25"], [("lines read", [1200, 900])], line=("quarantined %", [0.5, 1.25]))

gives an `<svg>` of one column per day (series stacked) with the line on a percent axis at the right,
followed by its legend. Every chart sits beside a table of the same figures, for readers who cannot
see it and for the record.
"""

from __future__ import annotations

import math
from html import escape

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 56, 14, 34  # room for the axes' labels
MAX_LABELS = 16  # x labels beyond this overlap: every n-th is shown
# Tableau's ten colours: told apart by most colour-blind readers, and still distinct when printed.
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
LINE_COLOUR = "#222222"


def colours(count: int) -> list[str]:
    return [PALETTE[i % len(PALETTE)] for i in range(count)]


def nice_ticks(top: float) -> list[float]:
    """Axis ticks from 0 in steps of 1, 2 or 5 times a power of ten, the last at or above `top`: 0, 250, 500..."""
    if top <= 0:
        return [0, 1]
    magnitude = 10 ** math.floor(math.log10(top / 5))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if top / (m * magnitude) <= 5)
    return [step * n for n in range(math.ceil(top / step - 1e-9) + 1)]


def _number(value: float) -> str:
    """`1,250`, `2.5`, `0.005`: whole numbers with separators, small ones to three significant digits."""
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.3g}"


def columns(
    labels: list[str],
    series: list[tuple[str, list[float]]],
    line: tuple[str, list[float | None]] | None = None,
    title: str = "",
) -> str:
    """Stacked columns, one per label, and optionally a line of percentages (0..100) on a right-hand axis."""
    width = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    totals = [sum(values[i] for _, values in series) for i in range(len(labels))]
    ticks = nice_ticks(max(totals, default=0))
    scale = (HEIGHT - TOP - BOTTOM) / ticks[-1]
    base = HEIGHT - BOTTOM
    parts = [_axis(ticks, scale, LEFT, "end", -6)]
    for i, label in enumerate(labels):
        x, y = LEFT + i * width + width * 0.15, base
        for (name, values), colour in zip(series, colours(len(series)), strict=True):
            height = values[i] * scale
            if height > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y - height:.1f}" width="{width * 0.7:.1f}" height="{height:.1f}" '
                    f'fill="{colour}"><title>{escape(label)} {escape(name)}: {_number(values[i])}</title></rect>'
                )
                y -= height
        if i % math.ceil(len(labels) / MAX_LABELS) == 0:
            parts.append(
                f'<text x="{LEFT + (i + 0.5) * width:.1f}" y="{base + 16}" text-anchor="middle">{escape(label)}</text>'
            )
    legend = [(name, colour, "box") for (name, _), colour in zip(series, colours(len(series)), strict=True)]
    if line is not None:
        parts.append(_line(line[1], width))
        legend.append((line[0], LINE_COLOUR, "line"))
    return _svg(parts, title) + _legend(legend)


def _line(percentages: list[float | None], width: float) -> str:
    """The line over the columns; None (a day with nothing to measure) breaks it."""
    ticks = nice_ticks(max((p for p in percentages if p is not None), default=0))
    scale = (HEIGHT - TOP - BOTTOM) / ticks[-1]
    parts = [_axis(ticks, scale, WIDTH - RIGHT, "start", 6, [f"{_number(t)} %" for t in ticks], grid=False)]
    runs: list[list[tuple[float, float]]] = [[]]
    for i, value in enumerate(percentages):
        if value is None:
            runs.append([])
        else:
            runs[-1].append((LEFT + (i + 0.5) * width, HEIGHT - BOTTOM - value * scale))
    for points in (run for run in runs if run):
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{LINE_COLOUR}" stroke-width="1.5"/>')
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{LINE_COLOUR}"/>' for x, y in points]
    return "".join(parts)


def _axis(
    ticks: list[float],
    scale: float,
    x: float,
    anchor: str,
    offset: int,
    labels: list[str] | None = None,
    grid: bool = True,
) -> str:
    """Tick labels at `x` and, for the main axis, light grid lines across the plot."""
    parts = []
    for tick, label in zip(ticks, labels or [_number(t) for t in ticks], strict=True):
        y = HEIGHT - BOTTOM - tick * scale
        if grid:
            parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{x + offset}" y="{y + 4:.1f}" text-anchor="{anchor}">{escape(label)}</text>')
    return "".join(parts)


def hbars(rows: list[tuple[str, float, float | None]], unit: str, title: str = "") -> str:
    """One horizontal bar per row (label, value, limit), the limit as a red mark, a bar past its limit in red."""
    height = TOP + BOTTOM + 22 * len(rows)
    top = max([v for _, v, _ in rows] + [limit for _, _, limit in rows if limit is not None], default=0)
    ticks = nice_ticks(top)
    left, right = 190, WIDTH - 24
    scale = (right - left) / ticks[-1]
    parts = []
    for tick in ticks:
        x = left + tick * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{height - BOTTOM}" class="grid"/>'
            f'<text x="{x:.1f}" y="{height - BOTTOM + 16}" text-anchor="middle">{_number(tick)}</text>'
        )
    for i, (label, value, limit) in enumerate(rows):
        y = TOP + 22 * i
        over = limit is not None and value > limit
        parts.append(
            f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{left}" y="{y + 4}" width="{max(value * scale, 1):.1f}" height="14" '
            f'fill="{PALETTE[3] if over else PALETTE[0]}"><title>{escape(label)}: {_number(value)} {unit}'
            f"</title></rect>"
        )
        if limit is not None:
            x = left + limit * scale
            parts.append(f'<line x1="{x:.1f}" y1="{y + 1}" x2="{x:.1f}" y2="{y + 21}" class="limit"/>')
    parts.append(f'<text x="{right}" y="{height - 4}" text-anchor="end">{escape(unit)}</text>')
    legend = _legend(
        [
            (f"age of the oldest record ({unit})", PALETTE[0], "box"),
            ("past its limit", PALETTE[3], "box"),
            ("limit", "#c00000", "line"),
        ]
    )
    return _svg(parts, title, height) + legend


def _svg(parts: list[str], title: str, height: int = HEIGHT) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )


def _legend(entries: list[tuple[str, str, str]]) -> str:
    items = "".join(
        f'<span class="key {shape}" style="--colour: {colour}"></span>{escape(name)} '
        for name, colour, shape in entries
    )
    return f'<p class="legend">{items}</p>'
