"""A self-contained HTML page: text, tables and PNG images embedded as data URIs."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from genreclf.reports.blocks import Block, Image, Section, Table, Text

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { border-bottom: 2px solid #444; }
h2 { margin-top: 2em; border-bottom: 1px solid #bbb; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #f0f0f0; }
img { max-width: 100%; display: block; margin: 0.5em 0; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; }
.note { color: #8a4b00; }
"""

SUFFIX = "html"


def text(value: str, tag: str = "p", css_class: str = "") -> str:
    """``value`` escaped, in one element ``tag``."""
    attribute = f' class="{css_class}"' if css_class else ""
    return f"<{tag}{attribute}>{html.escape(value)}</{tag}>"


def image(path: Path, alt: str = "") -> str:
    """An ``<img>`` holding the PNG file ``path`` as a base64 data URI."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt or Path(path).name)}">'


def table(block: Table) -> str:
    """A table block as an HTML table (pandas ``to_html``)."""
    return block.frame.to_html(
        index=False,
        border=0,
        na_rep="-",
        float_format=lambda v: f"{v:.{block.digits}f}",
        escape=True,
    )


def block(item: Block) -> str:
    """One block as HTML."""
    if isinstance(item, Text):
        return text(item.value, item.tag, item.css_class)
    if isinstance(item, Table):
        return table(item)
    if isinstance(item, Image):
        return image(item.path, item.alt)
    raise TypeError(f"not a report block: {item!r}")


def page(title: str, sections: list[Section]) -> str:
    """A whole HTML document: ``title`` and ``(heading, [blocks])`` sections."""
    body = [text(title, "h1")]
    for heading, blocks in sections:
        body += [text(heading, "h2"), *(block(b) for b in blocks)]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
            *body,
            "</body></html>",
        ]
    )
