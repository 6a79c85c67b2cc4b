"""Charts drawn by the server: bar and line charts as data for an inline SVG template.

Everything the template needs is computed here (bar rectangles, polyline points, marker
shapes, axis ticks and labels), so ``templates/_charts.html`` only places it. A chart also
keeps its data as table rows: the page shows them as the chart's text alternative. Colours
come from classes in the style sheet; every series also has its own dash pattern and marker
shape, so the lines can be told apart without colour.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Literal

from app.core.i18n import gettext as _

# The drawing's own coordinate system (the SVG's viewBox); the page scales it to its width.
WIDTH = 640
HEIGHT = 300
LEFT = 56
RIGHT = 16
TOP = 32  # room above the plot for the unit and the tallest bar's value
BOTTOM = 64
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM
MAX_TICKS = 5
SERIES_STYLES = 6  # .chart-series-0 … -5 in the style sheet: colour and dash pattern
MARKER_RADIUS = 4.5
CHAR_WIDTH = 7.0  # an x label's approximate width per character, for thinning crowded labels
ROTATED_MAX = 12  # characters of a label written at an angle (the room below the plot)


@dataclass(frozen=True)
class Tick:
    """A value on the y axis and the height it is drawn at."""

    value: int
    y: float
    label: str


@dataclass(frozen=True)
class XLabel:
    x: float
    text: str


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float
    text_x: float  # where the value is written, just above the bar
    text_y: float


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    value: int
    path: str  # an SVG path in the series' own shape


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[int, ...]
    style: int  # picks colour, dash pattern (CSS class) and marker shape
    points: str  # the polyline's points attribute
    markers: tuple[Marker, ...]
    legend_line: str  # points of the short sample line in the legend
    legend_marker: str  # the marker in the legend, as a path


@dataclass(frozen=True)
class Chart:
    kind: Literal["bars", "lines"]
    id: str  # unique on a page for the same chart data: names the SVG's title and description
    title: str
    unit: str
    description: str  # one or two sentences saying what the chart shows
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float  # the y of the x axis
    ticks: tuple[Tick, ...]
    x_labels: tuple[XLabel, ...]
    rotate_labels: bool
    bars: tuple[Bar, ...]
    series: tuple[Series, ...]
    show_values: bool  # values written above the bars (when they fit)
    axis: str  # heading of the table's first column
    columns: tuple[str, ...]  # headings of the value columns
    rows: tuple[tuple[str, tuple[int, ...]], ...]  # the data as a table: label, values
    empty: bool  # nothing to draw: no categories or points


def bars(
    title: str, labels: list[str], values: list[int], *, unit: str, axis: str | None = None
) -> Chart:
    """A bar chart: one bar per label; ``unit`` says what the values count."""
    if len(labels) != len(values):
        raise ValueError("bars: as many values as labels")
    if any(v < 0 for v in values):
        raise ValueError("bars: values are counts, never negative")
    top_value, ticks = _ticks(max(values, default=0))
    n = len(labels)
    band = PLOT_WIDTH / n if n else PLOT_WIDTH
    bar_width = band * 0.7
    drawn: list[Bar] = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = PLOT_HEIGHT * value / top_value
        x = LEFT + i * band + (band - bar_width) / 2
        y = TOP + PLOT_HEIGHT - height
        drawn.append(
            Bar(
                label=label,
                value=value,
                x=_r(x),
                y=_r(y),
                width=_r(bar_width),
                height=_r(height),
                text_x=_r(x + bar_width / 2),
                text_y=_r(y - 4),
            )
        )
    centres = [LEFT + i * band + band / 2 for i in range(n)]
    x_labels, rotate = _x_labels(labels, centres, band)
    if not n:
        description = _("Geen gegevens.")
    else:
        highest = max(range(n), key=lambda i: values[i])
        description = _(
            "Staafdiagram met %(n)s staven. Hoogste: %(label)s met %(value)s %(unit)s. "
            "Totaal: %(total)s %(unit)s.",
            n=n,
            label=labels[highest],
            value=values[highest],
            unit=unit,
            total=sum(values),
        )
    return Chart(
        kind="bars",
        id=_chart_id(title, labels, [values], unit),
        title=title,
        unit=unit,
        description=description,
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        top=TOP,
        right=WIDTH - RIGHT,
        bottom=TOP + PLOT_HEIGHT,
        ticks=ticks,
        x_labels=x_labels,
        rotate_labels=rotate,
        bars=tuple(drawn),
        series=(),
        show_values=n > 0 and band >= 8 * max(len(str(v)) for v in values),
        axis=axis if axis is not None else _("Categorie"),
        columns=(unit,),
        rows=tuple((label, (value,)) for label, value in zip(labels, values, strict=True)),
        empty=n == 0,
    )


def lines(
    title: str,
    x_labels: list[str],
    series: list[tuple[str, list[int]]],
    *,
    unit: str,
    axis: str | None = None,
) -> Chart:
    """A line chart: each series is a name and one value per x label."""
    for name, values in series:
        if len(values) != len(x_labels):
            raise ValueError(f"lines: series {name!r} needs one value per x label")
        if any(v < 0 for v in values):
            raise ValueError("lines: values are counts, never negative")
    n = len(x_labels)
    top_value, ticks = _ticks(max((v for _n, vs in series for v in vs), default=0))
    step = PLOT_WIDTH / (n - 1) if n > 1 else 0.0
    xs = [LEFT + i * step for i in range(n)] if n > 1 else [LEFT + PLOT_WIDTH / 2] * n
    drawn: list[Series] = []
    for index, (name, values) in enumerate(series):
        style = index % SERIES_STYLES
        shape = index % len(_SHAPES)
        points = [
            (x, TOP + PLOT_HEIGHT - PLOT_HEIGHT * v / top_value)
            for x, v in zip(xs, values, strict=True)
        ]
        legend_y = 10.0
        drawn.append(
            Series(
                name=name,
                values=tuple(values),
                style=style,
                points=" ".join(f"{_r(x)},{_r(y)}" for x, y in points),
                markers=tuple(
                    Marker(x=_r(x), y=_r(y), value=v, path=_SHAPES[shape](x, y, MARKER_RADIUS))
                    for (x, y), v in zip(points, values, strict=True)
                ),
                legend_line=f"2,{legend_y} 38,{legend_y}",
                legend_marker=_SHAPES[shape](20, legend_y, MARKER_RADIUS),
            )
        )
    labels, rotate = _x_labels(x_labels, xs, step if n > 1 else PLOT_WIDTH)
    if not n or not series:
        description = _("Geen gegevens.")
    else:
        parts = []
        for name, values in series:
            peak = max(range(n), key=lambda i: values[i])
            parts.append(
                _(
                    "%(name)s: hoogste %(value)s %(unit)s bij %(label)s.",
                    name=name,
                    value=values[peak],
                    unit=unit,
                    label=x_labels[peak],
                )
            )
        description = " ".join(
            [
                _(
                    "Lijndiagram van %(first)s tot %(last)s.",
                    first=x_labels[0],
                    last=x_labels[-1],
                ),
                *parts,
            ]
        )
    return Chart(
        kind="lines",
        id=_chart_id(title, x_labels, [vs for _n, vs in series], unit),
        title=title,
        unit=unit,
        description=description,
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        top=TOP,
        right=WIDTH - RIGHT,
        bottom=TOP + PLOT_HEIGHT,
        ticks=ticks,
        x_labels=labels,
        rotate_labels=rotate,
        bars=(),
        series=tuple(drawn),
        show_values=False,
        axis=axis if axis is not None else _("Tijd"),
        columns=tuple(name for name, _vs in series),
        rows=tuple((label, tuple(vs[i] for _n, vs in series)) for i, label in enumerate(x_labels)),
        empty=not n or not series,
    )


def _r(value: float) -> float:
    return round(value, 1)


def _chart_id(title: str, labels: list[str], values: list[list[int]], unit: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:32] or "chart"
    digest = hashlib.sha1(repr((title, labels, values, unit)).encode()).hexdigest()[:8]
    return f"chart-{slug}-{digest}"


def nice_step(top: int) -> int:
    """A step of 1, 2 or 5 times a power of ten giving at most MAX_TICKS steps up to ``top``."""
    if top <= 0:
        return 1
    magnitude = 1
    while magnitude * 10 * MAX_TICKS < top:
        magnitude *= 10
    for factor in (1, 2, 5, 10):
        step: int = factor * magnitude
        if -(-top // step) <= MAX_TICKS:
            return step
    return 10 * magnitude  # pragma: no cover - the loop above always returns


def _ticks(highest: int) -> tuple[int, tuple[Tick, ...]]:
    """The top of the y axis (at least 1, a whole number of steps) and its ticks."""
    step = nice_step(highest)
    top = max(step, math.ceil(highest / step) * step)
    ticks = tuple(
        Tick(value=v, y=_r(TOP + PLOT_HEIGHT - PLOT_HEIGHT * v / top), label=str(v))
        for v in range(0, top + 1, step)
    )
    return top, ticks


def _x_labels(
    labels: list[str], centres: list[float], spacing: float
) -> tuple[tuple[XLabel, ...], bool]:
    """The x labels to write: all when they fit, else every k-th (the table has them all).

    Long labels are written at an angle."""
    if not labels:
        return (), False
    characters = max(len(label) for label in labels)
    longest = characters * CHAR_WIDTH
    rotate = longest > spacing and characters > 6  # short ones (times, numbers) stay level
    room = (CHAR_WIDTH * 2.2) if rotate else longest + CHAR_WIDTH
    every = max(1, math.ceil(room / spacing)) if spacing > 0 else 1
    return (
        tuple(
            XLabel(x=_r(x), text=_short(label) if rotate else label)
            for i, (label, x) in enumerate(zip(labels, centres, strict=True))
            if i % every == 0
        ),
        rotate,
    )


def _short(label: str) -> str:
    """A label written at an angle is cut to what fits below the plot and inside the
    drawing; the table under the chart has it whole."""
    return label if len(label) <= ROTATED_MAX else label[: ROTATED_MAX - 1].rstrip() + "…"


def _circle(x: float, y: float, r: float) -> str:
    return f"M{_r(x - r)},{_r(y)} a{r},{r} 0 1,0 {2 * r},0 a{r},{r} 0 1,0 {-2 * r},0 Z"


def _square(x: float, y: float, r: float) -> str:
    s = r * 0.9
    return f"M{_r(x - s)},{_r(y - s)} h{_r(2 * s)} v{_r(2 * s)} h{_r(-2 * s)} Z"


def _triangle(x: float, y: float, r: float) -> str:
    low = _r(y + r * 0.8)
    return f"M{_r(x)},{_r(y - r * 1.1)} L{_r(x + r)},{low} L{_r(x - r)},{low} Z"


def _diamond(x: float, y: float, r: float) -> str:
    s = r * 1.2
    return f"M{_r(x)},{_r(y - s)} L{_r(x + s)},{_r(y)} L{_r(x)},{_r(y + s)} L{_r(x - s)},{_r(y)} Z"


def _cross(x: float, y: float, r: float) -> str:
    return (
        f"M{_r(x - r)},{_r(y - r)} L{_r(x + r)},{_r(y + r)} "
        f"M{_r(x - r)},{_r(y + r)} L{_r(x + r)},{_r(y - r)}"
    )


def _triangle_down(x: float, y: float, r: float) -> str:
    high = _r(y - r * 0.8)
    return f"M{_r(x)},{_r(y + r * 1.1)} L{_r(x + r)},{high} L{_r(x - r)},{high} Z"


_SHAPES = (_circle, _square, _triangle, _diamond, _cross, _triangle_down)
