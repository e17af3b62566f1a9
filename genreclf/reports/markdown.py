"""The report as Markdown: headings, paragraphs, pipe tables, images as relative links.

Every text and cell is read data (labels, run names, params): each is written through
:func:`escape` (HTML-escaped, Markdown's link, code and cell marks backslashed, one
line), and preformatted text in a code fence longer than any run of backticks in it
(:func:`fence`), so no text can open an HTML element, make a link or close its fence.
"""

from __future__ import annotations

import html
import re

from genreclf.core.errors import printable
from genreclf.reports.blocks import Block, Image, Section, Table, Text, cell_text

SUFFIX = "md"

#: Markdown's marks that could turn text into a link, an image, code, emphasis or a cell
#: (``_`` inside words is no mark; at worst it emphasises).
MARKS = re.compile(r"([\\`*\[\]|])")


def escape(value: str) -> str:
    """``value`` as one line of Markdown text that renders as itself.

    Control characters (newlines included) are written as escapes such as ``\\n``
    (:func:`~genreclf.core.errors.printable`), Markdown's marks are backslashed and ``&``,
    ``<``, ``>`` are HTML entities.
    """
    return html.escape(MARKS.sub(r"\\\1", printable(str(value))), quote=False)


def fence(value: str) -> str:
    """``value`` in a code fence of backticks longer than any run of backticks in it."""
    body = "\n".join(printable(line) for line in value.rstrip().splitlines())
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    marks = "`" * max(3, longest + 1)
    return f"{marks}\n{body}\n{marks}"


def table(item: Table) -> str:
    """A plain pipe table, numbers right-aligned."""
    cells = cell_text(item.frame, item.digits)
    header = [escape(str(c)) for c in item.frame.columns]
    numeric = [item.frame[c].dtype.kind in "iuf" for c in item.frame.columns]
    rule = ["---:" if n else "---" for n in numeric]
    rows = [header, rule, *([escape(v) for v in row] for row in cells.itertuples(index=False))]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def block(item: Block) -> str:
    """One block as Markdown."""
    if isinstance(item, Text):
        if item.tag == "pre":
            return fence(item.value)
        return f"> {escape(item.value)}" if item.css_class == "note" else escape(item.value)
    if isinstance(item, Table):
        return table(item)
    if isinstance(item, Image):
        return f"![{escape(item.alt)}]({item.path.name})"
    raise TypeError(f"not a report block: {item!r}")


def page(title: str, sections: list[Section]) -> str:
    """A whole Markdown document: ``title`` and ``(heading, [blocks])`` sections."""
    parts = [f"# {escape(title)}"]
    for heading, blocks in sections:
        parts += [f"## {escape(heading)}", *(block(b) for b in blocks)]
    return "\n\n".join(parts) + "\n"
