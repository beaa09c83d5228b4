"""Hostile text in the files pairwise writes comes out inert, and files land where they should.

- CSV: no text cell starts with a character that makes a spreadsheet run it (OWASP, "CSV
  Injection"); numbers stay numbers; the dataset card's loader gives back the original text.
- Markdown (report and dataset card): rendered by markdown-it-py with raw HTML allowed (as
  GitHub, Jupyter and most viewers do), a hostile name makes no tag and no link, and reads as
  itself.
- Export page: a bad file name is refused and nothing is written outside its folder.
- Reports and exports get the mode the umask gives a new file, not the temp-file default 0600.
"""

from __future__ import annotations

import csv
import os
import stat
import tempfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

import analysis
from pairwise import export
from pairwise.escape import (
    FORMULA_STARTS,
    csv_original,
    csv_text,
    markdown_prose,
    markdown_text,
)
from pairwise.export import ExportOptions, export_dataset
from pairwise.report import build_report, report_markdown, write_report
from pairwise.store import Prompt, Store

IMG = '<img src=x onerror="alert(1)">'
LINK = "[sign in again](https://evil.example/login)"
IMAGE = "![pixel](https://evil.example/p.png)"
SCRIPT = "<script>alert(2)</script>"
FORMULAS = [
    '=HYPERLINK("https://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "'=already quoted",
]


@pytest.fixture
def hostile(store: Store) -> Store:
    """A study whose model, study, category and annotator names and rationales are hostile."""
    models = (IMG, LINK)
    store.add_prompts(
        [Prompt(f"p{i}", SCRIPT, [{"role": "user", "content": f"Q{i}"}], [], 1) for i in range(7)]
    )
    store.add_responses(
        (f"p{i}", m, f"- answer {i} of one model") for i in range(7) for m in models
    )
    store.create_study(IMAGE, pairs=[models], overlap=1, seed=0)
    who = store.add_annotator(SCRIPT)
    ids = store.comparisons_frame(IMAGE)["comparison_id"]
    for score, (rationale, comparison) in zip(
        (-3, 3, -1, 0, 2, -2, 1), zip(FORMULAS, ids, strict=True), strict=True
    ):
        store.record_judgment(
            int(comparison), who.id, score=score, shown_order="AB", rationale=rationale
        )
    return store


# -- CSV -----------------------------------------------------------------------------------------


def test_raw_csv_has_no_formula_cells_keeps_numbers_and_reads_back(hostile, tmp_path):
    path = export_dataset(hostile, tmp_path / "raw", ExportOptions(format="raw-csv")).files["all"]
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    cells = [value for row in rows for value in row.values()]
    runnable = [c for c in cells if c.startswith(FORMULA_STARTS) and not c.lstrip("+-").isdigit()]
    assert runnable == []
    assert sorted(int(r["score"]) for r in rows) == [-3, -2, -1, 0, 1, 2, 3]  # numbers stay data
    assert {r["response_a"] for r in rows} == {f"'- answer {i} of one model" for i in range(7)}
    # the loader printed in the dataset card gives back every original text
    card = path.with_suffix(".md").read_text(encoding="utf-8")
    loader = card.split("```python\n")[1].split("```")[0]
    scope: dict = {}
    cwd = os.getcwd()
    try:
        os.chdir(path.parent)
        exec(loader, scope)
    finally:
        os.chdir(cwd)
    back = scope["frame"]
    assert sorted(back["rationale"]) == sorted(FORMULAS)
    frame = hostile.judgments_frame(with_text=True)
    pd.testing.assert_frame_equal(
        back[frame.columns].sort_values("judgment_id", ignore_index=True),
        frame.sort_values("judgment_id", ignore_index=True),
        check_dtype=False,
    )


@given(st.text(max_size=12))
def test_csv_text_is_inert_and_undone_exactly(text):
    cell = csv_text(text)
    assert csv_original(cell) == text
    if cell.startswith(FORMULA_STARTS):  # only a plain number may start like a formula
        float(cell)


def test_csv_text_leaves_numbers_alone():
    assert [csv_text(v) for v in (-3, 2.5, None, "-3", "+1.5", "-0.5e3")] == [
        -3,
        2.5,
        None,
        "-3",
        "+1.5",
        "-0.5e3",
    ]
    assert csv_text("-3 points") == "'-3 points"


# -- Markdown ------------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.add(tag)

    def handle_data(self, data) -> None:
        self.text.append(data)


def _rendered(markdown: str) -> _Tags:
    """The HTML a permissive viewer makes of ``markdown`` (raw HTML on, links on), parsed."""
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    parsed = _Tags()
    parsed.feed(md.render(markdown))
    parsed.close()
    return parsed


HARMLESS_TAGS = {"h1", "h2", "p", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "code"}
HARMLESS_TAGS |= {"pre", "hr", "strong", "em"}


@pytest.mark.parametrize("name", [IMG, LINK, IMAGE, SCRIPT, "a|b*c*_d_`e`~~f~~\\g\nh"])
def test_markdown_text_renders_as_the_text_itself(name):
    for escape in (markdown_text, markdown_prose):
        parsed = _rendered(f"before {escape(name)} after")
        assert parsed.tags == {"p"}
        assert "".join(parsed.text).strip() == f"before {name.replace(chr(10), ' ')} after"


def _hostile_frame() -> pd.DataFrame:
    frame = analysis.simulate_judgments(n_models=3, n_prompts=20, n_comparisons=40, seed=1)
    names = {"model-00": IMG, "model-01": LINK, "model-02": SCRIPT}
    for column in ("model_a", "model_b"):
        frame[column] = frame[column].map(names)
    frame["category"] = frame["category"].map(lambda c: IMAGE if c == "coding" else c)
    frame["annotator"] = frame["annotator"].map(lambda a: IMG + a)
    return frame


def test_markdown_report_shows_hostile_names_as_text():
    report = build_report(_hostile_frame(), rounds=50, study=LINK)
    markdown = report_markdown(report)
    parsed = _rendered(markdown)
    assert parsed.tags <= HARMLESS_TAGS, parsed.tags - HARMLESS_TAGS
    text = "".join(parsed.text)
    for name in (IMG, LINK, SCRIPT, IMAGE):
        assert name in text


def test_dataset_card_shows_hostile_names_as_text(hostile, tmp_path):
    card = export_dataset(hostile, tmp_path / "prefs", ExportOptions(study=IMAGE)).card
    body = card.read_text(encoding="utf-8").split("---\n", 2)[2]  # after the YAML header
    parsed = _rendered(body)
    assert parsed.tags <= HARMLESS_TAGS, parsed.tags - HARMLESS_TAGS
    text = "".join(parsed.text)
    for name in (IMG, LINK, IMAGE):
        assert name in text


# -- Export page: file names ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "   ", ".", "..", "../up", "a/b", "a\\b", ".hidden"])
def test_export_file_names_are_checked(name):
    with pytest.raises(ValueError, match="file name"):
        export.check_file_name(name)


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch) -> Iterator[Path]:
    """A fresh folder as the system's temporary folder, to see everything written into it."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    yield root


@pytest.mark.parametrize("name", ["", ".", "..", "../escape"])
def test_export_page_refuses_bad_names_and_writes_nothing_outside(
    hostile, monkeypatch, temp_root, name
):
    monkeypatch.setenv("PAIRWISE_DB", hostile.path)
    at = AppTest.from_string("from pairwise.pages.export import page\npage()\n").run(timeout=30)
    at.text_input(key="export.name").set_value(name).run()
    at.button(key="export.prepare").click().run()
    assert not at.exception
    assert any("file name" in e.value for e in at.error)
    assert list(at.get("download_button")) == []
    assert list(temp_root.iterdir()) == []
    assert list(temp_root.parent.glob("*.jsonl")) == []


def test_export_page_writes_a_good_name_in_its_folder(hostile, monkeypatch, temp_root):
    monkeypatch.setenv("PAIRWISE_DB", hostile.path)
    at = AppTest.from_string("from pairwise.pages.export import page\npage()\n").run(timeout=30)
    at.text_input(key="export.name").set_value(" my prefs ").run()
    at.button(key="export.prepare").click().run()
    assert [b.label for b in at.get("download_button")] == ["my prefs.jsonl", "my prefs.md"]
    assert list(temp_root.iterdir()) == []  # the temporary folder is gone again


# -- file modes ----------------------------------------------------------------------------------


@pytest.fixture(params=[0o022, 0o027])
def umask(request) -> Iterator[int]:
    before = os.umask(request.param)
    yield request.param
    os.umask(before)


def test_reports_and_exports_get_the_mode_the_umask_gives(hostile, tmp_path, umask):
    expected = 0o666 & ~umask
    report = build_report(hostile.judgments_frame(), rounds=20)
    written = [*write_report(report, tmp_path / "r.json"), *write_report(report, tmp_path / "r.md")]
    files = export_dataset(hostile, tmp_path / "e", ExportOptions(format="raw-csv"))
    written += [*files.files.values(), files.card]
    (tmp_path / "plain").touch()  # what any new file gets
    assert stat.S_IMODE((tmp_path / "plain").stat().st_mode) == expected
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in written} == {
        p.name: expected for p in written
    }
