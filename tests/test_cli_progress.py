"""Long commands draw progress bars on standard error when it is a terminal, and nothing when not.

The terminal is a real pseudo-terminal (:mod:`pty`) given to the real command as its standard
error, standard output staying a pipe: the bars go to the terminal, the results to the pipe. Piped
or redirected, standard error stays empty, so scripts and logs get only the results.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pairwise import progress
from pairwise.ingest import import_prompts

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


def pairwise(db: str, *args: str, terminal: bool, cwd: Path) -> tuple[int, str, str]:
    """Run ``pairwise --db DB ARGS``; ``(status, stdout, stderr)``, stderr a terminal or a pipe."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    command = [sys.executable, "-m", "pairwise.cli", "--db", db, *args]
    if not terminal:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, cwd=cwd, timeout=300
        )
        return done.returncode, done.stdout, done.stderr
    leader, follower = pty.openpty()
    seen: list[bytes] = []

    def read_terminal() -> None:
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: the command closed its end
                return
            if not data:
                return
            seen.append(data)

    reader = threading.Thread(target=read_terminal)
    reader.start()
    try:
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL,
            env=env, cwd=cwd, text=True,
        ) as proc:  # fmt: skip
            os.close(follower)
            out, _ = proc.communicate(timeout=300)
        reader.join(timeout=60)
    finally:
        os.close(leader)
    return proc.returncode, out, b"".join(seen).decode("utf-8", "replace")


@pytest.fixture
def prompts_file(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.jsonl"
    lines = (json.dumps({"id": f"p{i}", "prompt": f"Question {i}?"}) for i in range(3000))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_draws_bars_on_a_terminal(tmp_path, new_db, prompts_file):
    status, out, terminal = pairwise(
        new_db("t"), "import", "prompts", str(prompts_file), terminal=True, cwd=tmp_path
    )
    assert status == 0, terminal
    assert out == f"{prompts_file}: prompts: 3000 inserted, 0 unchanged\n"
    for stage in ("Reading prompts.jsonl", "Checking records", "Writing prompts"):
        assert stage in terminal
    assert "100%" in terminal and "\r" in terminal  # a bar redrawn in place, run to the end
    assert terminal.count("Writing prompts") > 2  # drawn as it went, not only at the end


def test_import_is_quiet_when_piped(tmp_path, new_db, prompts_file):
    status, out, err = pairwise(
        new_db("p"), "import", "prompts", str(prompts_file), terminal=False, cwd=tmp_path
    )
    assert status == 0
    assert out == f"{prompts_file}: prompts: 3000 inserted, 0 unchanged\n"
    assert err == ""


@pytest.fixture
def judged_db(judged) -> str:
    judged.close()
    return judged.path


@pytest.mark.parametrize("terminal", [True, False])
def test_report_and_export(judged_db, tmp_path, terminal):
    report_out = tmp_path / f"report-{terminal}.json"
    status, out, err = pairwise(
        judged_db, "report", "--bootstrap", "20", "--out", str(report_out), terminal=terminal,
        cwd=tmp_path,
    )  # fmt: skip
    assert status == 0, err
    assert out == f"wrote {report_out}\n"
    assert json.loads(report_out.read_text())["meta"]["counts"]["judgments"] == 432
    if terminal:
        assert "Loading judgments" in err and "Computing the report" in err and "100%" in err
    else:
        assert err == ""
    data = tmp_path / f"prefs-{terminal}.jsonl"
    status, out, err = pairwise(judged_db, "export", str(data), terminal=terminal, cwd=tmp_path)
    assert status == 0, err
    assert out.startswith(f"wrote {data} (")
    if terminal:
        assert "Reading judgments" in err and "Writing records" in err and "100%" in err
    else:
        assert err == ""


def test_the_library_reports_each_stage_to_the_end(store, prompts_file):
    """What the bars draw: every stage starts at 0 and ends at its total, counts never go back."""
    seen: list[tuple[str, int, int]] = []
    with progress.reporting(lambda *step: seen.append(step)):
        import_prompts(store, prompts_file)
    stages = list(dict.fromkeys(stage for stage, _, _ in seen))
    assert stages == ["reading prompts.jsonl", "checking records", "writing prompts"]
    for stage in stages:
        steps = [(done, total) for s, done, total in seen if s == stage]
        assert steps[0][0] == 0 and steps[-1][0] == steps[-1][1]
        assert [d for d, _ in steps] == sorted(d for d, _ in steps)
        assert len(steps) <= progress.UPDATES + 2
    assert ("checking records", 3000, 3000) in seen and ("writing prompts", 3000, 3000) in seen


def test_nothing_is_reported_without_a_reporter(store, prompts_file):
    assert list(progress.track([1, 2, 3], "stage")) == [1, 2, 3]
    import_prompts(store, prompts_file)  # no reporter: nothing to call, nothing fails
    assert store.counts()["prompts"] == 3000
