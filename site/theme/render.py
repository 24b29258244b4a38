"""The course website's MyST theme: static HTML from the AST that Jupyter Book 2 builds.

MyST runs this file (template.yml's `build.render`) with two variables: CONTENT_CDN, the address of
its content server (config.json, then content/SLUG.json for every page: the page's MyST AST, maths
already typeset by KaTeX, notebook outputs with their images as files beside it), and
BUILD_DIRECTORY, where the site goes. Every page becomes SLUG.html at the top of that folder, so
every link between pages is a plain relative one and the site works under any base address;
images and stylesheets go under build/. Widgets are drawn in their saved state (a slider at its
saved value, a panel's last figure), since nothing can change them without a kernel; the one script
is added afterwards by scripts/build_site.py: notebook 01's dashboard replays a recorded run
(site/replay/). Standard library only, plus Pygments (which ships with IPython) for the code.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
import shutil
import sys
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

try:  # Pygments comes with IPython, a runtime dependency; without it the code is shown plain.
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer
except ImportError:  # pragma: no cover - the site extra installs the runtime set
    highlight = None


# The alt text of a figure whose cell prints no caption line.
DEFAULT_ALT = "a figure drawn by the cell above"
CAPTION = "Figure: "


def figure_caption(block: dict) -> str:
    """The last caption line ("Figure: ...") a notebook cell printed, without its prefix ('' if none)."""
    found = ""
    stack = list(block.get("children") or [])
    while stack:
        node = stack.pop(0)
        out = node.get("jupyter_data") or {}
        if out.get("output_type") == "stream":
            text = out.get("text", "")
            text = "".join(text) if isinstance(text, list) else str(text)
            for line in text.splitlines():
                if line.startswith(CAPTION):
                    found = line[len(CAPTION):].strip()
        stack.extend(node.get("children") or [])
    return found


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


class Site:
    """One build: fetches from the content server, writes into `out`."""

    def __init__(self, cdn: str, out: Path) -> None:
        self.cdn = cdn.rstrip("/")
        self.out = out
        self.assets = out / "build"
        self.assets.mkdir(parents=True, exist_ok=True)

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.cdn + path, timeout=60) as response:
            return response.read()

    def asset(self, url: str) -> str:
        """Copy a file the content server holds (an image: '/hash.png') into build/; its relative address."""
        name = Path(urllib.parse.urlparse(url).path).name
        target = self.assets / name
        if not target.exists():
            target.write_bytes(self.get("/" + urllib.parse.quote(name)))
        return "build/" + name


def page_file(slug: str, index: str) -> str:
    return "index.html" if slug == index else f"{slug}.html"


def internal_href(url: str, index: str) -> str:
    """'/notebooks/vanilla-gan#the-chase' -> 'notebooks.vanilla-gan.html#the-chase'."""
    path, _, fragment = url.partition("#")
    slug = path.strip("/").replace("/", ".") or index
    return page_file(slug, index) + (f"#{fragment}" if fragment else "")


class Page:
    """Renders one page's AST."""

    def __init__(self, site: Site, data: dict, index: str) -> None:
        self.site = site
        self.index = index
        self.alt = DEFAULT_ALT
        self.widget_alt = ""
        state = (data.get("widgets") or {}).get(WIDGET_STATE, {})
        self.widgets: dict = state.get("state", {})

    # --- nodes -------------------------------------------------------------------------------
    def children(self, node: dict) -> str:
        return "".join(self.node(child) for child in node.get("children") or [])

    def node(self, node: dict) -> str:  # noqa: C901 - one branch per node type
        kind = node.get("type")
        inner = self.children
        if kind == "text":
            return esc(node.get("value", ""))
        if kind in ("root", "mystDirective", "mystRole", "container", "legend"):
            return inner(node)
        if kind == "block":
            return self.block(node)
        if kind == "paragraph":
            return f"<p>{inner(node)}</p>\n"
        if kind == "heading":
            depth = min(int(node.get("depth", 2)), 6)
            anchor = node.get("html_id") or node.get("identifier") or ""
            ident = f' id="{esc(anchor)}"' if anchor else ""
            return f"<h{depth}{ident}>{inner(node)}</h{depth}>\n"
        simple = {"emphasis": "em", "strong": "strong", "superscript": "sup", "subscript": "sub", "delete": "del",
                  "underline": "u", "smallcaps": "span", "keyboard": "kbd", "span": "span", "caption": "figcaption",
                  "tableRow": "tr", "blockquote": "blockquote", "listItem": "li", "abbreviation": "abbr"}
        if kind in simple:
            tag = simple[kind]
            title = f' title="{esc(node["title"])}"' if node.get("title") else ""
            return f"<{tag}{title}>{inner(node)}</{tag}>" + ("\n" if kind in ("tableRow", "blockquote") else "")
        if kind == "inlineCode":
            return f"<code>{esc(node.get('value', ''))}</code>"
        if kind == "code":
            return self.code(node.get("value", ""), node.get("lang") or "")
        if kind in ("inlineMath", "math"):
            if node.get("html") and not node.get("error"):
                return node["html"] if kind == "inlineMath" else f'<div class="math">{node["html"]}</div>\n'
            return f'<code class="math-source">{esc(node.get("value", ""))}</code>'
        if kind == "list":
            tag = "ol" if node.get("ordered") else "ul"
            first = node.get("start")
            start = f' start="{int(first)}"' if node.get("ordered") and first not in (None, 1) else ""
            return f"<{tag}{start}>{inner(node)}</{tag}>\n"
        if kind == "link":
            return self.link(node)
        if kind == "crossReference":
            url = node.get("url") or ("#" + node.get("html_id", node.get("identifier", "")))
            href = internal_href(url, self.index) if url.startswith("/") else url
            return f'<a href="{esc(href)}">{inner(node) or esc(node.get("label", ""))}</a>'
        if kind == "image":
            src = self.site.asset(node["url"]) if node.get("url", "").startswith("/") else node.get("url", "")
            return f'<img src="{esc(src)}" alt="{esc(node.get("alt", ""))}" loading="lazy">'
        if kind == "table":
            return f"<table>\n{inner(node)}</table>\n"
        if kind == "tableCell":
            tag = "th" if node.get("header") else "td"
            align = f' style="text-align:{esc(node["align"])}"' if node.get("align") else ""
            return f"<{tag}{align}>{inner(node)}</{tag}>"
        if kind == "thematicBreak":
            return "<hr>\n"
        if kind == "break":
            return "<br>"
        if kind == "html":
            return node.get("value", "")
        if kind in ("admonition", "aside"):
            return f'<aside class="admonition {esc(node.get("kind", "note"))}">{inner(node)}</aside>\n'
        if kind == "admonitionTitle":
            return f'<p class="admonition-title">{inner(node)}</p>'
        if kind == "comment":
            return ""
        if kind == "footnoteReference":
            return f'<sup><a href="#fn-{esc(node.get("identifier", ""))}">{esc(node.get("label", ""))}</a></sup>'
        if kind == "footnoteDefinition":
            return f'<div class="footnote" id="fn-{esc(node.get("identifier", ""))}">{inner(node)}</div>'
        if kind == "outputs":
            return inner(node)
        if kind == "output":
            return self.output(node.get("jupyter_data") or {})
        # Anything else: its content, so that nothing written is lost.
        return inner(node) if node.get("children") else esc(node.get("value", ""))

    def link(self, node: dict) -> str:
        url = node.get("url", "")
        text = self.children(node)
        if node.get("internal") or (url.startswith("/") and not url.startswith("//")):
            return f'<a href="{esc(internal_href(url, self.index))}">{text}</a>'
        # MyST's linkify turns a word such as torch.cat into a link to http://torch.cat: keep such words as text.
        bare = re.sub(r"^https?://", "", url)
        if url.startswith("http://") and "/" not in bare and html.unescape(text) == bare:
            return text
        return f'<a href="{esc(url)}" rel="noopener">{text}</a>'

    def code(self, source: str, lang: str) -> str:
        if highlight is not None and lang in ("python", "ipython", "ipython3", ""):
            return highlight(source, PythonLexer(), HtmlFormatter(cssclass="highlight"))
        return f'<pre class="highlight"><code>{esc(source)}</code></pre>\n'

    def block(self, node: dict) -> str:
        data = node.get("data") or {}
        if node.get("kind") != "notebook-code":
            return f"<section>{self.children(node)}</section>\n"
        code = "".join(self.node(c) for c in node.get("children", []) if c.get("type") == "code")
        # A figure's text alternative is the cell's caption line ("Figure: ..."), printed beside it.
        self.alt = figure_caption(node) or DEFAULT_ALT
        outputs = "".join(self.node(c) for c in node.get("children", []) if c.get("type") == "outputs")
        self.alt = DEFAULT_ALT
        if (data.get("jupyter") or {}).get("source_hidden"):
            code = ('<details class="hidden-source"><summary>check cell (collapsed in the notebook)</summary>'
                    f"{code}</details>")
        anchor = node.get("html_id") or ""
        ident = f' id="{esc(anchor)}"' if anchor else ""
        return f'<div class="cell"{ident}><div class="input">{code}</div><div class="outputs">{outputs}</div></div>\n'

    # --- notebook outputs ---------------------------------------------------------------------
    def output(self, out: dict) -> str:
        kind = out.get("output_type")
        if kind == "stream":
            text = ANSI.sub("", out.get("text", ""))
            return f'<pre class="output {esc(out.get("name", "stdout"))}">{esc(text)}</pre>\n'
        if kind == "error":
            text = ANSI.sub("", "\n".join(out.get("traceback") or [f"{out.get('ename')}: {out.get('evalue')}"]))
            return f'<pre class="output stderr">{esc(text)}</pre>\n'
        data = out.get("data") or {}

        def content(mime: str) -> str:
            item = data.get(mime)
            return item.get("content", "") if isinstance(item, dict) else (item or "")

        if WIDGET_VIEW in data:
            try:
                model = json.loads(content(WIDGET_VIEW))["model_id"]
            except (ValueError, KeyError, TypeError):
                model = ""
            if model in self.widgets:
                return f'<div class="widget-static">{self.widget(model)}</div>\n'
            return ""  # a widget whose state was not saved: nothing to show
        if "text/html" in data:
            return f'<div class="output html">{content("text/html")}</div>\n'
        for mime in ("image/png", "image/jpeg", "image/gif", "image/svg+xml"):
            if mime in data:
                item = data[mime]
                src = self.site.asset(item["path"]) if isinstance(item, dict) and item.get("path") else ""
                if not src:
                    src = f"data:{mime};base64,{content(mime)}"
                return f'<img class="output" src="{esc(src)}" alt="{esc(self.alt)}">\n'
        if "text/plain" in data:
            return f'<pre class="output">{esc(ANSI.sub("", content("text/plain")))}</pre>\n'
        return ""

    def panel_caption(self, children: list[str]) -> str:
        """The caption line among a box's children (a Label that reads "Figure: ..."), without its prefix."""
        for child in children:
            model = self.widgets.get(str(child).removeprefix("IPY_MODEL_")) or {}
            value = str((model.get("state") or {}).get("value", ""))
            if model.get("model_name") == "LabelModel" and value.startswith(CAPTION):
                return value[len(CAPTION):].strip()
        return ""

    def widget(self, model_id: str, depth: int = 0) -> str:
        """A widget in its saved state, drawn without scripts (nothing can change it without a kernel)."""
        model = self.widgets.get(model_id.removeprefix("IPY_MODEL_"))
        if model is None or depth > 20:
            return ""
        name, s = model.get("model_name", ""), model.get("state", {})
        label = f'<span class="w-label">{esc(s.get("description", ""))}</span>' if s.get("description") else ""
        if name in ("VBoxModel", "HBoxModel", "BoxModel", "GridBoxModel"):
            cls = {"VBoxModel": "w-vbox", "HBoxModel": "w-hbox", "GridBoxModel": "w-grid"}.get(name, "w-vbox")
            # A panel's caption line ("Figure: ...", a Label beside the figure's box) is its figure's alt text.
            caption = self.panel_caption(s.get("children", []))
            outer, self.widget_alt = self.widget_alt, caption or self.widget_alt
            inner = "".join(self.widget(c, depth + 1) for c in s.get("children", []))
            self.widget_alt = outer
            return f'<div class="{cls}">{inner}</div>'
        if name in ("HTMLModel", "HTMLMathModel"):
            return f'<div class="w-html">{label}{s.get("value", "")}</div>' if s.get("value") else ""
        if name == "LabelModel":
            return f'<span class="w-text">{esc(s.get("value", ""))}</span>' if s.get("value") else ""
        if name in ("IntSliderModel", "FloatSliderModel", "FloatLogSliderModel", "SelectionSliderModel"):
            if name == "SelectionSliderModel":
                options = s.get("_options_labels", [])
                index = s.get("index") or 0
                value = options[index] if 0 <= index < len(options) else ""
                rng = f'min="0" max="{max(len(options) - 1, 0)}" value="{index}"'
            elif name == "FloatLogSliderModel":
                value = f"{s.get('value', 0):.3g}"
                rng = f'min="{s.get("min", 0)}" max="{s.get("max", 1)}" step="any" ' \
                      f'value="{math.log(max(s.get("value", 1), 1e-300), s.get("base", 10))}"'
            else:
                value = s.get("value", "")
                rng = f'min="{s.get("min", 0)}" max="{s.get("max", 100)}" step="any" value="{value}"'
            return (f'<label class="w-slider">{label}<input type="range" disabled {rng}>'
                    f'<span class="w-readout">{esc(value)}</span></label>')
        if name in ("DropdownModel", "RadioButtonsModel", "ToggleButtonsModel"):
            options = s.get("_options_labels", [])
            index = s.get("index")
            items = "".join(f"<option{' selected' if i == index else ''}>{esc(o)}</option>"
                            for i, o in enumerate(options))
            return f'<label class="w-select">{label}<select disabled>{items}</select></label>'
        if name in ("ButtonModel", "ToggleButtonModel"):
            return f'<button type="button" disabled>{esc(s.get("description", ""))}</button>'
        if name in ("IntProgressModel", "FloatProgressModel"):
            bar = f'<progress max="{s.get("max", 100)}" value="{s.get("value", 0)}"></progress>'
            return f'<label class="w-progress">{label}{bar}</label>'
        if name in ("CheckboxModel",):
            checked = " checked" if s.get("value") else ""
            box = f'<input type="checkbox" disabled{checked}>'
            return f'<label class="w-check">{box}{esc(s.get("description", ""))}</label>'
        if name == "ImageModel":
            for buffer in model.get("buffers", []):
                if buffer.get("path") == ["value"] and buffer.get("data"):
                    raw = base64.b64decode(buffer["data"]) if buffer.get("encoding") == "base64" else b""
                    if raw:
                        fmt = s.get("format", "png")
                        name = f"widget-{model_id.removeprefix('IPY_MODEL_')}.{fmt}"
                        (self.site.assets / name).write_bytes(raw)
                        alt = self.widget_alt or "the figure this panel last drew"
                        return f'<img class="w-image" src="build/{esc(name)}" alt="{esc(alt)}">'
            return ""
        if name == "OutputModel":
            return "".join(self.output(o) for o in s.get("outputs", []))
        layout = self.widgets.get(str(s.get("layout", "")).removeprefix("IPY_MODEL_")) or {}
        if (layout.get("state") or {}).get("display") == "none":
            return ""  # an invisible widget (ganlib's ControlNames) draws nothing
        if name == "AnyModel":
            return ('<div class="w-live">A live view drawn in the browser while the notebook trains: open the '
                    'notebook in JupyterLab to play it.</div>')
        return ""


def navigation(pages: list[dict], index: str, current: str, title: str) -> str:
    items = [f'<li class="{"current" if current == index else ""}"><a href="index.html">{esc(title)}</a></li>']
    for page in pages:
        if "slug" not in page:
            items.append(f'<li class="group">{esc(page.get("title", ""))}</li>')
            continue
        cls = "current" if page["slug"] == current else ""
        items.append(f'<li class="{cls} level{page.get("level", 1)}"><a href="{page_file(page["slug"], index)}">'
                     f'{esc(page.get("title", page["slug"]))}</a></li>')
    return '<nav class="toc"><ul>' + "".join(items) + "</ul></nav>"


def main() -> int:
    out = Path(os.environ["BUILD_DIRECTORY"])
    site = Site(os.environ["CONTENT_CDN"], out)
    config = json.loads(site.get("/config.json"))
    project = config["projects"][0]
    index, title = project["index"], project.get("title", "")
    pages = project.get("pages", [])
    order = [index] + [p["slug"] for p in pages if "slug" in p]
    titles = {p["slug"]: p.get("title", p["slug"]) for p in pages if "slug" in p}
    # KaTeX's stylesheet and fonts, from the pinned npm package (site/theme/package-lock.json).
    katex = Path(os.environ.get("GAN_COURSE_SITE_NODE_MODULES", HERE / "node_modules")) / "katex" / "dist"
    if not (katex / "katex.min.css").exists():
        print(f"render.py: KaTeX's stylesheet is missing ({katex}); run scripts/build_site.py", file=sys.stderr)
        return 1
    shutil.copytree(katex / "fonts", site.assets / "katex" / "fonts", dirs_exist_ok=True)
    shutil.copy2(katex / "katex.min.css", site.assets / "katex" / "katex.min.css")
    style = (HERE / "style.css").read_text(encoding="utf-8")
    if highlight is not None:
        style += "\n" + HtmlFormatter(style="default").get_style_defs(".highlight")
    (site.assets / "style.css").write_text(style, encoding="utf-8")
    for position, slug in enumerate(order):
        data = json.loads(site.get(f"/content/{slug}.json"))
        page = Page(site, data, index)
        body = page.node(data["mdast"])
        heading = data.get("frontmatter", {}).get("title") or titles.get(slug, title)
        if data.get("frontmatter", {}).get("content_includes_title") is not True:
            body = f"<h1>{esc(heading)}</h1>\n{body}"
        neighbours = []
        if position > 0:
            before = order[position - 1]
            neighbours.append(f'<a class="prev" href="{page_file(before, index)}">&larr; '
                              f'{esc(titles.get(before, title))}</a>')
        if position + 1 < len(order):
            after = order[position + 1]
            neighbours.append(f'<a class="next" href="{page_file(after, index)}">{esc(titles.get(after, title))} '
                              "&rarr;</a>")
        document = (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(heading)} · {esc(title)}</title>"
            "<link rel=\"icon\" href=\"data:,\">"  # no favicon request, so no 404 in the console
            "<link rel=\"stylesheet\" href=\"build/katex/katex.min.css\">"
            "<link rel=\"stylesheet\" href=\"build/style.css\"></head>\n<body>"
            f"{navigation(pages, index, slug, title)}<main>{body}"
            f'<footer class="pager">{"".join(neighbours)}</footer>'
            "<p class=\"licence\">Code: MIT. The notebooks' text and figures: CC BY 4.0. Built with Jupyter Book 2"
            " from the saved notebooks.</p></main></body></html>\n"
        )
        (out / page_file(slug, index)).write_text(document, encoding="utf-8")
    print(f"render.py: wrote {len(order)} pages into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
