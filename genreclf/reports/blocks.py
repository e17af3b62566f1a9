"""The pieces of a report, independent of its format: text, tables, images.

:mod:`genreclf.reports.html`, :mod:`genreclf.reports.markdown` and
:mod:`genreclf.reports.latex` each render a list of sections of these blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

#: Characters of a run id shown in tables and text (the CSV files keep the whole id).
SHORT_ID = 8

#: Columns holding run ids (one id, or several separated by spaces).
ID_COLUMNS: tuple[str, ...] = ("run_id", "runs")


@dataclass(frozen=True)
class Text:
    """A paragraph (``tag="p"``) or preformatted text (``tag="pre"``)."""

    value: str
    tag: str = "p"
    css_class: str = ""


@dataclass(frozen=True, eq=False)
class Table:
    """A table; floats are shown with ``digits`` decimals, missing values as ``-``."""

    frame: pd.DataFrame
    digits: int = 4


@dataclass(frozen=True)
class Image:
    """A PNG file written into the report folder."""

    path: Path
    alt: str = ""


Block = Text | Table | Image
#: A heading and its blocks.
Section = tuple[str, list[Block]]


def short_ids(value: object) -> object:
    """Every run id in ``value`` (a text of ids separated by spaces) cut to :data:`SHORT_ID`."""
    if not isinstance(value, str):
        return value
    return " ".join(part[:SHORT_ID] for part in value.split())


def text(value: str, tag: str = "p", css_class: str = "") -> Text:
    """A paragraph or, with ``tag="pre"``, preformatted text."""
    return Text(value, tag, css_class)


def table(frame: pd.DataFrame, digits: int = 4) -> Table:
    """A table with the run ids of :data:`ID_COLUMNS` shortened to :data:`SHORT_ID`."""
    shown = frame.copy()
    for column in ID_COLUMNS:
        if column in shown.columns:
            shown[column] = shown[column].map(short_ids)
    return Table(shown.reset_index(drop=True), digits)


def image(path: Path, alt: str = "") -> Image:
    """A PNG file of the report folder."""
    return Image(Path(path), alt or Path(path).name)


def cell_text(frame: pd.DataFrame, digits: int) -> pd.DataFrame:
    """``frame`` as text: floats with ``digits`` decimals, missing values as ``-``."""

    def show(value: object) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return "-"
        if isinstance(value, float):
            return f"{value:.{digits}f}"
        return str(value)

    return frame.map(show)
