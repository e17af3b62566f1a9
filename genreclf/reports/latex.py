"""The report as a LaTeX document: ``tabular`` tables (pandas ``to_latex``, booktabs
rules), figures by file name, beside the PNG files.

Every text and cell is read data (labels, run names, params, a logged classification
report): each is written through :func:`escape`, never in ``verbatim``, so no text can
end an environment or run a TeX command (``\\openin``, ``\\input``); preformatted text
is a monospace line per line (:func:`preformatted`).
"""

from __future__ import annotations

from genreclf.core.errors import printable
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
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    '"': r"\textquotedbl{}",
}


def escape(value: str) -> str:
    """``value`` as LaTeX text: special characters written as text, control characters
    (newlines included) as escapes such as ``\\n`` (:func:`~genreclf.core.errors.printable`)."""
    return "".join(SPECIAL.get(char, char) for char in printable(str(value)))


def preformatted(value: str) -> str:
    """Preformatted text (a classification report) as monospace lines, each escaped.

    Spaces are kept (``\\ ``, as wide as a character in a monospace font), an empty line
    stays empty; each line is its own paragraph, so nothing in it can reach the next.
    """
    lines = [escape(line).replace(" ", "\\ ") or "\\mbox{}" for line in value.rstrip().splitlines()]
    body = "\\par\n".join(lines)
    return f"{{\\small\\ttfamily\\raggedright\\parindent=0pt\n{body}\\par}}"


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
            return preformatted(item.value)
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
