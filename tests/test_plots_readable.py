"""plots.readable: no text of a figure below the projected minimum, larger text left alone."""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.text import Text

from ganlib.plots import MIN_FONT_PT, readable


def test_readable_raises_small_text_and_keeps_large_text() -> None:
    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], label="key")
    ax.legend(fontsize=6)
    ax.set_title("title", fontsize=14)
    ax.tick_params(labelsize=7)
    assert readable(fig) is fig
    sizes = {t.get_text(): t.get_fontsize() for t in fig.findobj(Text) if t.get_text()}
    assert min(sizes.values()) >= MIN_FONT_PT == 9
    assert sizes["title"] == 14 and sizes["key"] == 9
    assert min(t.get_fontsize() for t in fig.findobj(Text)) == 9
    readable(fig, pt=12)
    assert {t.get_text(): t.get_fontsize() for t in fig.findobj(Text) if t.get_text()}["title"] == 14
    assert min(t.get_fontsize() for t in fig.findobj(Text)) == 12
