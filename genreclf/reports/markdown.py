"""The report as Markdown: headings, paragraphs, pipe tables, images as relative links."""

from __future__ import annotations

from genreclf.reports.blocks import Block, Image, Section, Table, Text, cell_text

SUFFIX = "md"


def _cell(value: str) -> str:
    """A table cell: pipes escaped, line breaks as spaces."""
    return value.replace("|", "\\|").replace("\n", " ")


def table(item: Table) -> str:
    """A plain pipe table, numbers right-aligned."""
    cells = cell_text(item.frame, item.digits)
    header = [_cell(str(c)) for c in item.frame.columns]
    numeric = [item.frame[c].dtype.kind in "iuf" for c in item.frame.columns]
    rule = ["---:" if n else "---" for n in numeric]
    rows = [header, rule, *([_cell(v) for v in row] for row in cells.itertuples(index=False))]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def block(item: Block) -> str:
    """One block as Markdown."""
    if isinstance(item, Text):
        if item.tag == "pre":
            return f"```\n{item.value.rstrip()}\n```"
        return f"> {item.value}" if item.css_class == "note" else item.value
    if isinstance(item, Table):
        return table(item)
    if isinstance(item, Image):
        return f"![{item.alt}]({item.path.name})"
    raise TypeError(f"not a report block: {item!r}")


def page(title: str, sections: list[Section]) -> str:
    """A whole Markdown document: ``title`` and ``(heading, [blocks])`` sections."""
    parts = [f"# {title}"]
    for heading, blocks in sections:
        parts += [f"## {heading}", *(block(b) for b in blocks)]
    return "\n\n".join(parts) + "\n"
