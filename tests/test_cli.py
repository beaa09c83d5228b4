"""The ``pairwise`` command line, through click's runner and as the real installed script."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pairwise.cli import main
from pairwise.store import Store

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


def jsonl(*records: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


@pytest.fixture
def run(new_db):
    """Run the CLI on a fresh database (no tables yet); returns click's result."""
    db = new_db("cli", bare=True)

    def invoke(*args: str, env: dict[str, str] | None = None):
        return CliRunner().invoke(main, ["--db", db, *args], env=env)

    invoke.db = db
    return invoke


@pytest.fixture
def files(tmp_path):
    """Prompts and three models' responses, as files."""
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        jsonl(*({"id": f"p{i}", "category": "c", "prompt": f"Question {i}?"} for i in range(4)))
    )
    responses = tmp_path / "responses.csv"
    rows = [f"p{i},{m},{m} says {i}" for i in range(4) for m in ("a", "b", "c")]
    responses.write_text("prompt_id,model,response\n" + "\n".join(rows) + "\n")
    return prompts, responses


def test_init_creates_the_schema_and_seeds_the_demo_once(run, databases):
    assert not databases.holds_store(run.db)
    result = run("init")
    assert result.exit_code == 0, result.output
    assert databases.holds_store(run.db) and "schema version 1" in result.output
    seeded = run("init", "--demo")
    assert seeded.exit_code == 0 and "Seeded the demo study 'demo'" in seeded.output
    again = run("init", "--demo")
    assert again.exit_code == 0 and "not seeded" in again.output
    with Store(run.db) as s:
        assert [st.name for st in s.studies()] == ["demo"]


def test_import_and_study_commands(run, files, tmp_path):
    prompts, responses = files
    out = run("import", "prompts", str(prompts))
    assert out.exit_code == 0 and "prompts: 4 inserted, 0 unchanged" in out.output
    out = run("import", "responses", str(responses))
    assert out.exit_code == 0 and "responses: 12 inserted" in out.output
    assert "4 unchanged" in run("import", "prompts", str(prompts)).output

    guidelines = tmp_path / "g.md"
    guidelines.write_text("# Rate well\n")
    ids = tmp_path / "ids.txt"
    ids.write_text("p0\np1\np2\n")
    out = run(
        "study", "create", "s1", "--models", "a,b,c", "--pairs", "baseline:a", "--overlap", "2",
        "--scale", "5", "--question", "Which is kinder?", "--guidelines", str(guidelines),
        "--gold-rate", "0.1", "--prompts", str(ids), "--seed", "7",
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    # 3 prompts x 2 pairs (b-a, c-a), 2 judgments each
    assert "Created study 's1': 6 comparisons, 0 of 12 judgments done" in out.output
    with Store(run.db) as s:
        study = s.get_study("s1")
        assert (study.scale.points, study.overlap, study.gold_rate) == (5, 2, 0.1)
        assert (study.question, study.guidelines) == ("Which is kinder?", "# Rate well\n")
        assert study.pair_plan == {"kind": "baseline", "baseline": "a"}
        frame = s.comparisons_frame("s1")
        assert sorted(set(zip(frame.model_a, frame.model_b, strict=True))) == [
            ("b", "a"), ("c", "a")
        ]  # fmt: skip
        assert set(frame.prompt_id) == {"p0", "p1", "p2"}

    out = run("study", "create", "s2", "--models", "a,b,c", "--pairs", "a:b,c:b", "--prompts", "p3")
    assert out.exit_code == 0 and "2 comparisons, 0 of 6" in out.output
    listing = run("study", "list")
    assert listing.exit_code == 0
    assert listing.output.splitlines() == [
        "s1  (5-point, overlap 2): 6 comparisons, 0 of 12 judgments done (0%)",
        "s2  (7-point, overlap 3): 2 comparisons, 0 of 6 judgments done (0%)",
    ]
    shown = run("study", "show", "s1")
    assert shown.exit_code == 0
    assert "baseline (a)" in shown.output and "0 of 6 comparisons" in shown.output


def test_import_judgments_with_a_study_name(run, tmp_path):
    records = [
        {"question_id": 1, "model_a": "x", "model_b": "y", "winner": "model_a", "judge": "j1"},
        {"question_id": 1, "model_a": "y", "model_b": "x", "winner": "tie", "judge": "j2"},
    ]
    path = tmp_path / "battles.jsonl"
    path.write_text(jsonl(*records))
    out = run("import", "judgments", str(path), "--study", "arena")
    assert out.exit_code == 0, out.output
    assert "judgments: 2 inserted" in out.output
    shown = run("study", "show", "arena")
    assert (
        "3-point" in shown.output and "1 comparisons, 2 of 2 judgments done (100%)" in shown.output
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("study", "show", "nope"), "Error: no study 'nope'"),
        (
            ("study", "create", "s", "--models", "a,zz"),
            "Error: no responses stored for model(s): zz",
        ),
        (("study", "create", "s", "--models", "a,b", "--pairs", "a:q"), "does not name two"),
        (("study", "create", "s", "--models", "a,b", "--prompts", "p1,p9"), "unknown prompt id"),
        (("study", "create", "s", "--models", "a,b", "--guidelines", "no.md"), "Error: "),
        (("import", "prompts", "missing.jsonl"), "missing.jsonl: cannot be read"),
        (("import", "prompts", "notes.txt"), 'unknown file type ".txt"'),
    ],
)
def test_errors_print_one_line_and_exit_1(run, files, args, message):
    prompts, responses = files
    run("import", "prompts", str(prompts))
    run("import", "responses", str(responses))
    result = run(*args)
    assert result.exit_code == 1
    assert message in result.output
    assert result.output.startswith("Error: ")
    assert isinstance(result.exception, SystemExit)  # click's exit, not an uncaught error


def test_bad_file_lists_its_problems_and_writes_nothing(run, tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"id": "a", "prompt": "ok"}\n{"id": "b"}\n{"id": 3, "prompt": "x"}\n')
    result = run("import", "prompts", str(path))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f'Error: {path}, line 2, field "prompt": is missing: give "prompt" (one user turn) or'
        ' "messages"',
        f'{path}, line 3, field "id": must be a string, not the number 3',
    ]
    with Store(run.db) as s:
        assert s.counts()["prompts"] == 0


def test_database_path_from_the_environment(new_db, files):
    db = new_db("env")
    result = CliRunner().invoke(main, ["import", "prompts", str(files[0])], env={"PAIRWISE_DB": db})
    assert result.exit_code == 0, result.output
    with Store(db) as s:
        assert s.counts()["prompts"] == 4


def test_unopenable_database_is_an_error(databases, tmp_path):
    result = CliRunner().invoke(main, ["--db", databases.missing(tmp_path), "init"])
    assert result.exit_code == 1
    assert re.match(r"Error: cannot (open|reach) the database", result.output)
    assert len(result.output.strip().splitlines()) == 1


def _run(command: list[str], tmp_path: Path, db: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAIRWISE_DB": db}
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )


def _bad_file_fails_cleanly(command: list[str], tmp_path: Path, db: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes("prompt_id,model,response\nx,m,caf\xe9\n".encode("latin-1"))
    failed = _run(command, tmp_path, db, "import", "responses", str(bad))
    assert failed.returncode == 1
    assert failed.stderr == f"Error: {bad}, line 2: is not UTF-8 (byte 0xe9); save it as UTF-8\n"


def test_the_installed_script(tmp_path, new_db):
    """The ``pairwise`` script that ``pip install -e .`` puts on the PATH."""
    script = shutil.which("pairwise")
    if script is None:
        pytest.skip("the package is not installed (pip install -e .)")
    db = new_db("real", bare=True)
    seeded = _run([script], tmp_path, db, "init", "--demo")
    assert seeded.returncode == 0, seeded.stderr
    assert "Seeded the demo study 'demo'" in seeded.stdout
    _bad_file_fails_cleanly([script], tmp_path, db)


def test_python_dash_m(tmp_path, new_db):
    _bad_file_fails_cleanly([sys.executable, "-m", "pairwise.cli"], tmp_path, new_db("real"))
