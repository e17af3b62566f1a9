"""The report as a LaTeX document: ``tabular`` tables (pandas ``to_latex``, booktabs
rules), figures by file name, beside the PNG files."""

from __future__ import annotations

from genreclf.reports.blocks import Block, Image, Section, Table, Text, cell_text

SUFFIX = "tex"

PREAMBLE = r"""\documentclass{article}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage[margin=2cm]{geometry}
\usepackage{booktabs}
\usepackage{graphicx}
\usepackage{textcomp}
"""

#: LaTeX's special characters and how to write them in text.
SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"\textpm{}",
}


def escape(value: str) -> str:
    """``value`` with LaTeX's special characters written as text."""
    return "".join(SPECIAL.get(char, char) for char in value)


def table(item: Table) -> str:
    """A ``tabular`` from pandas ``to_latex``, scaled down to the text width if wider."""
    cells = cell_text(item.frame, item.digits).map(escape)
    cells.columns = [escape(str(c)) for c in item.frame.columns]
    align = "".join("r" if item.frame[c].dtype.kind in "iuf" else "l" for c in item.frame.columns)
    tabular = cells.to_latex(index=False, escape=False, column_format=align)
    return "\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%\n" + (
        f"{tabular.strip()}}}"
    )


def block(item: Block) -> str:
    """One block as LaTeX."""
    if isinstance(item, Text):
        if item.tag == "pre":
            return f"\\begin{{verbatim}}\n{item.value.rstrip()}\n\\end{{verbatim}}"
        return f"\\emph{{{escape(item.value)}}}" if item.css_class == "note" else escape(item.value)
    if isinstance(item, Table):
        return f"\\begin{{center}}\n{table(item)}\n\\end{{center}}"
    if isinstance(item, Image):
        return (
            "\\begin{center}\n"
            f"\\includegraphics[width=0.9\\linewidth]{{{item.path.name}}}\n"
            "\\end{center}"
        )
    raise TypeError(f"not a report block: {item!r}")


def page(title: str, sections: list[Section]) -> str:
    """A whole LaTeX document: ``title`` and ``(heading, [blocks])`` sections."""
    parts = [PREAMBLE, "\\begin{document}", f"\\section*{{{escape(title)}}}"]
    for heading, blocks in sections:
        parts += [f"\\subsection*{{{escape(heading)}}}", *(block(b) for b in blocks)]
    parts.append("\\end{document}")
    return "\n\n".join(parts) + "\n"
