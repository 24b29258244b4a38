"""Accessible names for a grid of controls and a panel's figure: what a screen reader says for each.

ipywidgets ties a dropdown's or a checkbox's description to it (a `<label for=...>`), but not a
slider's: its handle (role "slider", moved with the arrow keys) and the box beside it where a value
is typed (`controls.SliderEntry`) are announced as "slider" and "edit text" with no name. ipywidgets
offers no trait for an ARIA attribute, so `ControlNames`, an invisible anywidget placed in the grid
by `controls.control_grid`, sets them in the browser: each slider's handle, and its readout where it
has one, is named by the slider's description ("seed"), its value box by the description and what
the box is for ("seed: type a value"). In a panel (`Panel` puts one in its box too), the figure's image
gets the caption line under it as its alt text; ipywidgets' own way, an Image's `tooltip`, breaks the
image's view (ipywidgets 8 reads a description that an Image does not have). A MutationObserver names
controls drawn again later and follows the caption as it changes.
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
  // A panel's figure: its alt text is the caption line under it ("Figure: ..." without the prefix).
  for (const caption of root.querySelectorAll(":scope > .ganlib-caption")) {
    let figure = caption.previousElementSibling;
    const img = figure ? figure.querySelector("img.widget-image, .widget-image img, img") : null;
    const alt = caption.textContent.trim().replace(/^Figure: /, "");
    if (img && alt && img.getAttribute("alt") !== alt) img.setAttribute("alt", alt);
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
      // characterData: a caption's new text; childList: controls and figures drawn again.
      observer.observe(root, { childList: true, subtree: true, characterData: true });
    };
    attach();
    return () => { if (observer) observer.disconnect(); };
  },
};
"""


class ControlNames(anywidget.AnyWidget):
    """Names the sliders, value boxes and captioned figure of the box it is a child of, for assistive technology
    (invisible)."""

    _esm = ESM

    def __init__(self, **kwargs: object) -> None:
        super().__init__(layout=W.Layout(display="none"), **kwargs)


__all__ = ["ControlNames", "ESM"]
