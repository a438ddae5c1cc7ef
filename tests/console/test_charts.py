"""The dashboard's SVG charts: every bar carries its own number, fits the plot, and any label is escaped."""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from idp.web.console import charts

SVG = "{http://www.w3.org/2000/svg}"
bars = st.lists(st.tuples(st.text(max_size=12), st.integers(min_value=0, max_value=10**6)), max_size=30)


def _visible(label: str) -> str:
    return "".join(c for c in label if unicodedata.category(c) != "Cc")


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


@given(bars)
def test_a_bar_chart_shows_each_value_within_the_plot(data: list[tuple[str, int]]) -> None:
    for draw in (charts.bar_chart, charts.hbar_chart):
        root = _parse(str(draw("标题 <t>", "说明 & desc", data)))
        assert root.get("role") == "img"
        assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}title").text == "标题 <t>"  # type: ignore[union-attr]
        rects = root.findall(f"{SVG}rect")
        shown = [(_visible(label), value) for label, value in data]
        assert [(r.get("data-label") or "", int(r.get("data-value") or -1)) for r in rects] == shown
        width, height = (float(v) for v in (root.get("viewBox") or "").split()[2:])
        for r in rects:
            x, y, w, h = (float(r.get(k) or 0) for k in ("x", "y", "width", "height"))
            assert w >= 0 and h >= 0 and x >= 0 and y >= 0 and x + w <= width + 0.1 and y + h <= height + 0.1


@given(st.integers(min_value=0, max_value=10**9))
def test_the_axis_top_is_a_round_number_at_or_above_the_highest_bar(peak: int) -> None:
    top = charts._nice_top(peak)  # noqa: SLF001
    assert top >= max(peak, 1) and re.fullmatch(r"[125]0*", str(top))
    assert top < max(peak, 1) * 5 / 2 + 1  # not needlessly high: the bars keep most of the plot
