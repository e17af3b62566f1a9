"""Issue 29, cases 1, 9, 11 and 12: every writer escapes what it writes.

Read text (genre labels, run names, file names, a logged classification report) reaches
LaTeX (``pdflatex -no-shell-escape``), Markdown, the console and matplotlib only escaped.
The slow tests train once on a feature table whose three genres carry hostile labels,
then run the real ``report`` and compile its LaTeX page.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from genreclf.core.errors import ConfigError, one_line, printable
from tests.e2e import run_command

#: Case 1: a label that, in ``verbatim``, ends it and types /etc/passwd into the PDF.
LATEX_LABEL = (
    r"\end{verbatim}\newread\f\openin\f=/etc/passwd\loop\unless\ifeof\f\readline\f to\l "
    r"\texttt{\l}\par\repeat\begin{verbatim}"
)
#: Case 9: HTML in a label, and a line of backticks that would close a code fence.
HTML_LABEL = "<script>alert(1)</script>\n```"
#: Case 12: a label matplotlib would parse as mathtext (an unknown command).
MATH_LABEL = r"$\undefinedcmd{x}$"
#: Case 11: a run name that clears the screen and fakes an error line.
CONSOLE_NAME = "run\x1b[2J\r\nerror: fake\x00\x7f\x85\u202e"
#: Characters that must never reach a terminal as they are.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]")
EXPERIMENT = "hostile"


def require_tool(name: str) -> str:
    """The path of ``name``; fail under ``CI=true`` if it is missing, else skip."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} missing: apt-get install texlive-latex-recommended poppler-utils"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def compile_pdf(tex: Path) -> str:
    """Compile ``tex`` with ``pdflatex -no-shell-escape``; the PDF's text."""
    done = subprocess.run(
        [require_tool("pdflatex"), "-no-shell-escape", "-interaction=nonstopmode", tex.name],
        cwd=tex.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    pdf = tex.with_suffix(".pdf")
    return subprocess.run(
        [require_tool("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def outside_fences(markdown: str) -> str:
    """``markdown`` without its fenced code blocks (inert text, shown as it is)."""
    return re.sub(r"^(`{3,})\n.*?^\1$", "", markdown, flags=re.S | re.M)


def assert_no_passwd(text: str) -> None:
    """No line of /etc/passwd is in ``text``."""
    lines = [line for line in Path("/etc/passwd").read_text().splitlines() if line.strip()]
    assert lines, "/etc/passwd is empty: the check could not fail"
    leaked = [line for line in lines if line in text]
    assert not leaked, leaked[:3]


# ------------------------------------------------------------------- case 11: console
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain text", "plain text"),
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("one\r\nerror: fake", "one\\r\\nerror: fake"),
        ("nul\x00del\x7fc1\x85", "nul\\x00del\\x7fc1\\x85"),
        ("tab\tbell\x07", "tab\\tbell\\x07"),
        ("rtl\u202eevil\u2028x", "rtl\\u202eevil\\u2028x"),
        ("bad\udcff.wav", "bad\\xff.wav"),
        ("música", "música"),
    ],
)
def test_printable_writes_control_characters_as_escapes(value, expected):
    assert printable(value) == expected
    assert printable(expected) == expected  # what is written stays as it is


def test_one_line_caps_length_and_joins_an_exceptions_lines():
    assert one_line("x" * 500) == "x" * 200 + "..."
    assert one_line("x" * 50, limit=10) == "x" * 10 + "..."
    assert one_line(ValueError("\n  first\x1b[2J\nsecond")) == "first\\x1b[2J second"
    assert one_line(ValueError("why\nmore"), named=True) == "ValueError: why more"
    assert one_line(KeyError()) == "KeyError"
    assert one_line(OSError(""), named=True) == "OSError"


def test_the_error_line_of_a_command_is_one_escaped_line(capsys):
    from genreclf.cli import one_line_errors

    def task(cfg):
        raise ConfigError(f"tracking.run_name={CONSOLE_NAME}: refused")

    with pytest.raises(SystemExit) as stop:
        one_line_errors(task)(None)
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert err.count("\n") == 1 and err.startswith("error: tracking.run_name=run\\x1b[2J")
    assert not CONTROL.search(err)


def test_sweep_lines_escape_run_names_and_values():
    from genreclf.sweeps.progress import SweepProgress, failed_line, job_line

    line = job_line(0, CONSOLE_NAME + "x" * 400, [f"+tag={CONSOLE_NAME}"], "FINISHED", 1.0, 2)
    failed = failed_line(1, [f"+tag={CONSOLE_NAME}"], f"Traceback\nValueError: {CONSOLE_NAME}", 2)
    progress = SweepProgress(CONSOLE_NAME, 2)
    for text in (line, failed, progress.finished(0, 0.5, [f"+tag={CONSOLE_NAME}"])):
        assert "\n" not in text and not CONTROL.search(text), text
        assert "run\\x1b[2J" in text
    assert len(line) < 400 and "..." in line


def test_predict_console_lines_escape_file_names_and_labels():
    from genreclf.predict import screen_table, stretches_line

    prediction = SimpleNamespace(
        file=f"songs/{CONSOLE_NAME}.wav",
        top=lambda k: [(CONSOLE_NAME, 0.9), ("rock", 0.1)][:k],
        stretches=lambda: [(0.0, 30.0, CONSOLE_NAME)],
    )
    table = screen_table([prediction], top_k=2)
    line = stretches_line(prediction)
    assert len(table.splitlines()) == 2 and "\n" not in line
    for text in (table, line):
        assert not CONTROL.search(text) and "run\\x1b[2J" in text


def test_run_names_are_refused_or_cut_at_mlflows_limit():
    from genreclf.core.registry import conf_values
    from genreclf.tracking.names import MAX_RUN_NAME, fit_run_name
    from genreclf.tracking.options import TrackingOptions

    tracking = conf_values("tracking", "default") | {"uri": "sqlite:///mlruns/mlflow.db"}
    for bad in ("x" * (MAX_RUN_NAME + 1), CONSOLE_NAME, "x" * 10_000):
        with pytest.raises(ValueError, match="run_name"):
            TrackingOptions(**(tracking | {"run_name": bad}))
    assert TrackingOptions(**(tracking | {"run_name": "x" * MAX_RUN_NAME})).run_name
    cut = fit_run_name("y" * 10_000)
    assert len(cut) == MAX_RUN_NAME and cut.endswith("...")
    assert fit_run_name(CONSOLE_NAME) == printable(CONSOLE_NAME)
    assert fit_run_name(None) is None


# --------------------------------------------------------------------- case 1: LaTeX
def test_latex_escapes_every_special_character_and_has_no_verbatim():
    from genreclf.reports import blocks, latex

    hostile = LATEX_LABEL + " $x^2_ ~%#&{}<>|\x1b\n\n"
    sections = [
        (hostile, [blocks.text(f"header\n{hostile}   0.5\n", "pre"), blocks.text(hostile)]),
        ("table", [blocks.table(pd.DataFrame({hostile: [hostile], "acc": [0.5]}))]),
    ]
    tex = latex.page(hostile, sections)
    body = tex.split("\\begin{document}", 1)[1]
    assert "verbatim}" not in body.replace("verbatim\\}", "")  # only as escaped text
    assert "\\openin" not in body and "\\end{verbatim}" not in body
    assert "\\textbackslash{}openin\\textbackslash{}f=/etc/passwd" in body
    assert "\\x1b" not in body and "\\textbackslash{}x1b" in body
    assert latex.escape("a_b 1% & {c}") == "a\\_b 1\\% \\& \\{c\\}"


def test_latex_page_with_hostile_text_compiles_without_reading_files(tmp_path):
    from genreclf.reports import blocks, latex

    report = f"     precision\n\n{LATEX_LABEL}   0.80\n```\n"
    sections = [(LATEX_LABEL, [blocks.text(report, "pre"), blocks.text(LATEX_LABEL)])]
    tex = tmp_path / "page.tex"
    tex.write_text(latex.page("t", sections), encoding="utf-8")
    text = compile_pdf(tex)
    assert_no_passwd(text)
    assert "\\openin\\f=/etc/passwd" in text  # the label, shown as its characters


# ------------------------------------------------------------------ case 9: Markdown
def test_markdown_escapes_html_and_fences_cannot_be_closed():
    from markdown_it import MarkdownIt

    from genreclf.reports import blocks, markdown

    report = f"header\n{HTML_LABEL}   1.00\n```\n````` five\nlast line"
    sections = [
        (HTML_LABEL, [blocks.text(report, "pre"), blocks.text(f"label {HTML_LABEL}")]),
        ("t", [blocks.table(pd.DataFrame({"genre": [HTML_LABEL, "[x](javascript:1)"]}))]),
    ]
    md = markdown.page(HTML_LABEL, sections)
    assert "<script>" not in outside_fences(md) and "&lt;script&gt;" in md
    rendered = MarkdownIt("commonmark").render(md)
    assert "<script>" not in rendered and "javascript:" not in rendered.split("<code>")[0]
    code = re.findall(r"<pre><code>(.*?)</code></pre>", rendered, re.S)
    assert len(code) == 1 and "header" in code[0] and "last line" in code[0]
    assert "```" in code[0] and "&lt;script&gt;" in code[0]
    assert markdown.fence("a ``````` b").startswith("````````\n")


# ---------------------------------------------------------------- case 12: matplotlib
def test_figures_draw_mathtext_labels_as_plain_text(tmp_path):
    from genreclf.reports.figures import confusion_matrix_figure, plain_text
    from genreclf.reports.plots import impact_figure, pca_figure
    from genreclf.reports.timeline import timeline_figure

    labels = [MATH_LABEL, "$a$ and $b$", "rock"]
    rng = np.random.default_rng(0)
    runs = pd.DataFrame(
        {"model": labels, "val_acc": [0.5, 0.6, 0.7], "test_acc": [0.4, 0.5, 0.6]}
    ).assign(**{"params.tag": labels})
    prediction = SimpleNamespace(
        probabilities=dict.fromkeys(labels, 1 / 3),
        window_spans=np.array([[0.0, 3.0], [3.0, 6.0]]),
        window_probabilities=np.full((2, 3), 1 / 3),
        duration=6.0,
        file=f"{MATH_LABEL}.wav",
        genre=MATH_LABEL,
    )
    figures = [
        confusion_matrix_figure(np.array([0, 1, 2]), np.array([0, 2, 1]), labels, MATH_LABEL),
        pca_figure(rng.normal(size=(9, 2)), np.repeat(labels, 3), np.array([0.5, 0.2])),
        impact_figure(runs, "tag", MATH_LABEL),
        timeline_figure(prediction),
    ]
    for fig in figures:
        fig.savefig(io.BytesIO(), format="png")  # mathtext would fail here
    assert plain_text(MATH_LABEL) == r"\$\undefinedcmd{x}\$"


# -------------------------------------------------- cases 1, 9, 12: the real commands
@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory, shared_data):
    """One run trained on three genres with hostile labels (SQLite store), and its
    ``report formats=[html,md,tex]``."""
    cwd = tmp_path_factory.mktemp("hostile")
    cache = tmp_path_factory.getbasetemp() / "cache"
    table = pd.read_csv(shared_data / "seed_features.csv")
    parts = []
    for genre, label in (("blues", MATH_LABEL), ("classical", HTML_LABEL), ("rock", LATEX_LABEL)):
        parts.append(table[table["label"] == genre].head(30).assign(label=label))
    csv = cwd / "hostile.csv"
    pd.concat(parts).to_csv(csv, index=False)
    uri = f"sqlite:///{cwd}/mlflow.db"
    common = [f"tracking.uri={uri}", f"tracking.experiment={EXPERIMENT}"]
    train = run_command(
        "genreclf.train",
        "data=table",
        f"data.path={csv}",
        "data.recipe=null",
        "trainer.max_epochs=2",
        *common,
        cwd=cwd,
        cache=cache,
    )
    report = run_command(
        "genreclf.report",
        f"experiment={EXPERIMENT}",
        f"tracking.uri={uri}",
        "formats=[html,md,tex]",
        "log_to_mlflow=false",
        cwd=cwd,
        cache=cache,
    )
    out = cwd / "reports" / EXPERIMENT
    return SimpleNamespace(train=train, report=report, out=out, uri=uri, cache=cache)


@pytest.mark.slow
def test_training_on_hostile_labels_finishes_with_one_line_per_genre(hostile_store):
    train = hostile_store.train
    assert train.returncode == 0, train.stderr[-3000:]  # case 12: the figures were drawn
    assert "Traceback" not in train.stderr
    report = train.stdout.split("Classification report", 1)[1].split("test accuracy", 1)[0]
    assert "<script>alert(1)</script>\\n```" in report  # the label's newline as \n
    assert not any(line.startswith("```") for line in report.splitlines())
    assert not CONTROL.search(train.stdout)


@pytest.mark.slow
def test_latex_report_of_hostile_labels_compiles_without_reading_etc_passwd(hostile_store):
    report = hostile_store.report
    assert report.returncode == 0, report.stderr[-3000:]
    tex = hostile_store.out / "report.tex"
    source = tex.read_text(encoding="utf-8")
    assert "verbatim" not in source.replace("\\{verbatim\\}", "")
    assert "\\textbackslash{}openin\\textbackslash{}f=/etc/passwd" in source
    text = compile_pdf(tex)
    assert_no_passwd(text)
    assert "\\openin\\f=/etc/passwd" in text  # the label, shown escaped


@pytest.mark.slow
def test_markdown_report_of_hostile_labels_is_escaped(hostile_store):
    from markdown_it import MarkdownIt

    assert hostile_store.report.returncode == 0, hostile_store.report.stderr[-3000:]
    md = (hostile_store.out / "report.md").read_text(encoding="utf-8")
    rendered = MarkdownIt("commonmark").render(md)
    assert "<script>" not in outside_fences(md) and "<script>" not in rendered
    assert "&lt;script&gt;" in rendered


@pytest.mark.slow
def test_a_planted_classification_report_is_escaped_in_every_page(hostile_store, tmp_path):
    from markdown_it import MarkdownIt
    from mlflow import MlflowClient

    from genreclf.tracking.names import REPORT_ARTIFACT

    assert hostile_store.train.returncode == 0, hostile_store.train.stderr[-3000:]
    client = MlflowClient(tracking_uri=hostile_store.uri)
    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    (run,) = client.search_runs([experiment], "attributes.status = 'FINISHED'")
    planted = f"precision\n```\n<script>alert(1)</script>\n{LATEX_LABEL}\n"
    client.log_text(run.info.run_id, planted, REPORT_ARTIFACT)
    report = run_command(
        "genreclf.report",
        f"experiment={EXPERIMENT}",
        f"tracking.uri={hostile_store.uri}",
        "formats=[md,tex]",
        "log_to_mlflow=false",
        "pca=false",
        f"output_dir={tmp_path}",
        cwd=tmp_path,
        cache=hostile_store.cache,
    )
    assert report.returncode == 0, report.stderr[-3000:]
    rendered = MarkdownIt("commonmark").render((tmp_path / "report.md").read_text())
    assert "<script>" not in rendered
    code = [c for c in re.findall(r"<pre><code>(.*?)</code></pre>", rendered, re.S) if "```" in c]
    assert len(code) == 1 and "&lt;script&gt;" in code[0] and LATEX_LABEL in code[0]
    text = compile_pdf(tmp_path / "report.tex")
    assert_no_passwd(text)
    assert "\\openin\\f=/etc/passwd" in text


@pytest.mark.slow
@pytest.mark.parametrize("name", [CONSOLE_NAME.replace("\x00", ""), "x" * 10_000])  # argv: no NUL
def test_train_refuses_a_hostile_run_name_in_one_escaped_line(tmp_path, name):
    result = run_command(
        "genreclf.train",
        f"tracking.run_name='{name}'",
        f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
        cwd=tmp_path,
        cache=tmp_path / "cache",
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "tracking.run_name" in result.stderr and "Traceback" not in result.stderr
    assert not CONTROL.search(result.stderr + result.stdout)
    assert len(result.stderr) < 3000 and not (tmp_path / "mlflow.db").exists()
