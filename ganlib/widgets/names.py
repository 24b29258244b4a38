"""Accessible names for a grid of controls: what a screen reader says for each slider and value box.

ipywidgets ties a dropdown's or a checkbox's description to it (a `<label for=...>`), but not a
slider's: its handle (role "slider", moved with the arrow keys) and the box beside it where a value
is typed (`controls.SliderEntry`) are announced as "slider" and "edit text" with no name. ipywidgets
offers no trait for an ARIA attribute, so `ControlNames`, an invisible anywidget placed in the grid
by `controls.control_grid`, sets them in the browser: each slider's handle, and its readout where it
has one, is named by the slider's description ("seed"), its value box by the description and what
the box is for ("seed: type a value"). A MutationObserver names controls that are drawn again later.
"""

from __future__ import annotations

import anywidget
import ipywidgets as W

# The JavaScript is short and has no imports: it must work in any front end that runs anywidgets,
# with nothing fetched from the network.
ESM = r"""
const name = (root) => {
  for (const slider of root.querySelectorAll(".widget-slider")) {
    const label = slider.querySelector(".widget-label");
    const text = label ? label.textContent.trim() : "";
    if (!text) continue;
    for (const handle of slider.querySelectorAll(".noUi-handle, .widget-readout")) {
      const wanted = handle.classList.contains("widget-readout") ? `${text} value` : text;
      if (handle.getAttribute("aria-label") !== wanted) handle.setAttribute("aria-label", wanted);
    }
    const typed = slider.closest(".ganlib-typed");
    const box = typed ? typed.querySelector(".ganlib-entry input") : null;
    if (box && box.getAttribute("aria-label") !== `${text}: type a value`) {
      box.setAttribute("aria-label", `${text}: type a value`);
    }
  }
};

export default {
  render({ el }) {
    let observer = null;
    let tries = 0;
    // The grid appends this view's element after rendering it: wait until it is in the grid.
    const attach = () => {
      const root = el.parentElement;
      if (!root) {
        if (tries++ < 600) requestAnimationFrame(attach);
        return;
      }
      name(root);
      observer = new MutationObserver(() => name(root));
      observer.observe(root, { childList: true, subtree: true });
    };
    attach();
    return () => { if (observer) observer.disconnect(); };
  },
};
"""


class ControlNames(anywidget.AnyWidget):
    """Names the sliders and value boxes of the box it is a child of, for assistive technology (invisible)."""

    _esm = ESM

    def __init__(self, **kwargs: object) -> None:
        super().__init__(layout=W.Layout(display="none"), **kwargs)


__all__ = ["ControlNames", "ESM"]
