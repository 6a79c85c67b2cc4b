"""Charts drawn by the server: geometry from app/domain/charts.py, markup from _charts.html."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from app.domain import charts
from app.web.templating import make_templates

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
SVG = "{http://www.w3.org/2000/svg}"


def render(chart: charts.Chart) -> str:
    env = make_templates(TEMPLATES).env
    template = env.from_string('{% from "_charts.html" import chart %}{{ chart(c) }}')
    return template.render(c=chart)


class Tags(HTMLParser):
    """Every start tag with its attributes, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def svg_of(html: str) -> ET.Element:
    """The chart's SVG, parsed as XML (so it is well formed)."""
    match = re.search(r'<svg class="chart-svg".*?</svg>', html, re.S)
    assert match, html
    return ET.fromstring(
        match.group(0).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
    )


def table_rows(html: str) -> list[list[str]]:
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    assert body
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]


def assert_accessible_and_inline_free(html: str) -> None:
    found = tags(html)
    names = [t for t, _a in found]
    assert names[0] == "figure"
    assert "figcaption" in names and "details" in names and "table" in names
    assert "script" not in names and "style" not in names
    assert all("style" not in attrs for _t, attrs in found), "no inline style attributes"
    assert not any(k.startswith("on") for _t, attrs in found for k in attrs)
    svg = [a for t, a in found if t == "svg" and a.get("role") == "img"]
    assert len(svg) == 1
    ids = {a["id"] for _t, a in found if a.get("id")}
    labelledby = (svg[0]["aria-labelledby"] or "").split()
    assert len(labelledby) == 2 and set(labelledby) <= ids
    root = svg_of(html)
    assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}desc") is not None
    assert root.find(f"{SVG}title").get("id") == labelledby[0]  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").get("id") == labelledby[1]  # type: ignore[union-attr]
    for th in [a for t, a in found if t == "th"]:
        assert th.get("scope") in ("col", "row")


@pytest.mark.parametrize(
    ("highest", "step", "top"),
    [
        (0, 1, 1),
        (1, 1, 1),
        (3, 1, 3),
        (5, 1, 5),
        (6, 2, 6),
        (7, 2, 8),
        (11, 5, 15),
        (23, 5, 25),
        (26, 10, 30),
        (100, 20, 100),
        (101, 50, 150),
        (990, 200, 1000),
    ],
)
def test_the_y_axis_has_a_few_round_steps_up_to_at_least_the_highest_value(
    highest: int, step: int, top: int
) -> None:
    c = charts.bars("T", ["a"], [highest], unit="x")
    values = [t.value for t in c.ticks]
    assert values == list(range(0, top + 1, step))
    assert len(values) - 1 <= charts.MAX_TICKS
    assert c.ticks[0].y == c.bottom and c.ticks[-1].y == c.top


def test_bars_are_as_high_as_their_values_on_a_common_baseline() -> None:
    c = charts.bars(
        "Aanvragen per stand", ["Zorg", "Techniek", "Onderwijs"], [4, 8, 0], unit="aanvragen"
    )
    assert c.kind == "bars" and not c.empty
    assert [t.value for t in c.ticks] == [0, 2, 4, 6, 8]
    zorg, techniek, onderwijs = c.bars
    plot = c.bottom - c.top
    assert techniek.height == pytest.approx(plot)  # the highest reaches the top of the axis
    assert zorg.height == pytest.approx(plot / 2)
    assert onderwijs.height == 0
    for bar in c.bars:
        assert bar.y + bar.height == pytest.approx(c.bottom, abs=0.1)
        assert c.left <= bar.x and bar.x + bar.width <= c.right
    assert zorg.x < techniek.x < onderwijs.x
    assert c.rows == (("Zorg", (4,)), ("Techniek", (8,)), ("Onderwijs", (0,)))
    assert c.columns == ("aanvragen",)
    assert "Techniek" in c.description and "8" in c.description and "12" in c.description


def test_a_bar_chart_renders_as_an_image_with_a_caption_and_the_data_as_a_table() -> None:
    c = charts.bars("Aanvragen per stand", ["Zorg", "Techniek"], [3, 5], unit="aanvragen")
    html = render(c)
    assert_accessible_and_inline_free(html)
    root = svg_of(html)
    rects = root.findall(f".//{SVG}rect")
    assert [float(r.get("height", "0")) for r in rects] == [b.height for b in c.bars]
    assert table_rows(html) == [["Zorg", "3"], ["Techniek", "5"]]
    assert "<figcaption" in html and "Aanvragen per stand</figcaption>" in html
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Zorg" in texts and "Techniek" in texts and "aanvragen" in texts


def test_all_zero_data_draws_an_axis_and_flat_bars() -> None:
    c = charts.bars("Leeg", ["09:00", "10:00"], [0, 0], unit="gesprekken")
    assert [t.value for t in c.ticks] == [0, 1]
    assert all(b.height == 0 for b in c.bars)
    html = render(c)
    assert_accessible_and_inline_free(html)
    assert table_rows(html) == [["09:00", "0"], ["10:00", "0"]]

    flat = charts.lines(
        "Vlak", ["09:00", "10:00", "11:00"], [("Wachtend", [0, 0, 0])], unit="mensen"
    )
    assert flat.series[0].points.count(",") == 3
    assert {m.y for m in flat.series[0].markers} == {flat.bottom}
    assert_accessible_and_inline_free(render(flat))


@pytest.mark.parametrize(
    "chart",
    [
        charts.bars("Niets", [], [], unit="aanvragen"),
        charts.lines("Niets", [], [], unit="mensen"),
        charts.lines("Niets", ["09:00"], [], unit="mensen"),
        charts.lines("Niets", [], [("Wachtend", [])], unit="mensen"),
    ],
)
def test_empty_charts_say_there_is_no_data(chart: charts.Chart) -> None:
    assert chart.empty
    html = render(chart)
    assert_accessible_and_inline_free(html)
    root = svg_of(html)
    assert "Geen gegevens" in [t.text for t in root.iter(f"{SVG}text")]
    assert not root.findall(f".//{SVG}rect")
    assert "Geen gegevens" in chart.description


def test_lines_put_each_value_at_its_label_and_height() -> None:
    c = charts.lines(
        "Over de dag",
        ["09:00", "10:00", "11:00"],
        [("Wachtend", [2, 4, 0]), ("Gesprekken", [1, 3, 3])],
        unit="mensen",
    )
    assert c.kind == "lines" and not c.empty
    waiting, talking = c.series
    assert [m.value for m in waiting.markers] == [2, 4, 0]
    xs = [m.x for m in waiting.markers]
    assert xs == [c.left, (c.left + c.right) / 2, c.right]
    assert [m.x for m in talking.markers] == xs
    assert waiting.markers[1].y == c.top and waiting.markers[2].y == c.bottom
    assert waiting.markers[0].y == pytest.approx((c.top + c.bottom) / 2, abs=0.1)
    assert waiting.points == " ".join(f"{m.x},{m.y}" for m in waiting.markers)
    assert [x.text for x in c.x_labels] == ["09:00", "10:00", "11:00"]
    assert c.columns == ("Wachtend", "Gesprekken")
    assert c.rows == (("09:00", (2, 1)), ("10:00", (4, 3)), ("11:00", (0, 3)))
    assert "Wachtend: hoogste 4 mensen bij 10:00." in c.description


def test_series_differ_in_dash_pattern_and_marker_shape_not_only_colour() -> None:
    names = [f"S{i}" for i in range(charts.SERIES_STYLES)]
    c = charts.lines("Zes", ["a", "b"], [(n, [i, i + 1]) for i, n in enumerate(names)], unit="x")
    assert len({s.style for s in c.series}) == charts.SERIES_STYLES
    # the marker shapes differ (compared at the same place: the legend sample)
    assert len({s.legend_marker for s in c.series}) == charts.SERIES_STYLES
    css = (TEMPLATES.parent / "static" / "css" / "moderator.css").read_text()
    dashes = {
        i: re.search(rf"\.chart-series-{i} \.chart-line \{{\s*stroke-dasharray: ([^;]+);", css)
        for i in range(charts.SERIES_STYLES)
    }
    patterns = [m.group(1) if m else "solid" for m in dashes.values()]
    assert len(set(patterns)) == charts.SERIES_STYLES, patterns
    html = render(c)
    assert_accessible_and_inline_free(html)
    legend = re.search(r'<ul class="chart-legend".*?</ul>', html, re.S)
    assert legend and all(f"<span>{n}</span>" in legend.group(0) for n in names)
    assert table_rows(html)[1] == ["b", "1", "2", "3", "4", "5", "6"]


def test_a_single_point_sits_in_the_middle() -> None:
    c = charts.lines("Eén", ["09:00"], [("Wachtend", [3])], unit="mensen")
    assert c.series[0].markers[0].x == (c.left + c.right) / 2
    assert_accessible_and_inline_free(render(c))


def test_crowded_labels_are_thinned_and_long_ones_turned_but_the_table_has_all() -> None:
    hours = [f"{h:02d}:00" for h in range(24)]
    c = charts.bars("Per uur", hours, list(range(24)), unit="aanvragen")
    shown = [x.text for x in c.x_labels]
    assert shown[0] == "00:00" and 1 < len(shown) < 24
    assert len(c.rows) == 24
    spacing = [b.x for b in c.x_labels]
    assert spacing == sorted(spacing)
    many = charts.bars(
        "Stands", [f"Een hele lange standnaam {i}" for i in range(8)], [1] * 8, unit="x"
    )
    assert many.rotate_labels
    # Turned labels are cut to what fits inside the drawing; the table keeps them whole.
    assert [x.text for x in many.x_labels][:1] == ["Een hele la…"]
    assert all(len(x.text) <= charts.ROTATED_MAX for x in many.x_labels)
    html = render(many)
    assert "rotate(-40" in html
    assert "Een hele lange standnaam 7" in html
    assert_accessible_and_inline_free(html)


def test_markup_in_titles_labels_and_names_is_text() -> None:
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    c = charts.lines(evil, [evil, "b"], [(evil, [1, 2])], unit=evil)
    html = render(c)
    assert "<script>" not in html and "<img" not in html
    assert_accessible_and_inline_free(html)
    b = charts.bars(evil, [evil], [1], unit=evil, axis=evil)
    html = render(b)
    assert "<script>" not in html and "<img" not in html
    assert_accessible_and_inline_free(html)


def test_ids_differ_between_charts_and_are_stable() -> None:
    a = charts.bars("Wachttijd", ["a"], [1], unit="x")
    b = charts.bars("Wachttijd", ["a"], [2], unit="x")
    assert a.id != b.id and a.id == charts.bars("Wachttijd", ["a"], [1], unit="x").id
    assert re.fullmatch(r"chart-[a-z0-9-]+", a.id)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        charts.bars("T", ["a", "b"], [1], unit="x")
    with pytest.raises(ValueError):
        charts.bars("T", ["a"], [-1], unit="x")
    with pytest.raises(ValueError):
        charts.lines("T", ["a", "b"], [("s", [1])], unit="x")
