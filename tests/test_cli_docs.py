"""docs/cli.md is the command line's own ``--help``, regenerated with ``python -m pairwise.cli_docs``."""

from __future__ import annotations

import os
import subprocess
import sys

from pairwise import cli_docs


def test_the_committed_reference_is_current():
    assert cli_docs.DOC.read_text(encoding="utf-8") == cli_docs.render(), (
        "docs/cli.md is stale: run python -m pairwise.cli_docs and commit it"
    )


def test_every_command_has_a_section():
    text = cli_docs.render()
    paths = list(cli_docs.command_paths())
    assert ("study", "create") in paths and ("import", "judgments") in paths
    for path in paths:
        assert f"## {' '.join(('pairwise', *path))}\n" in text


def test_a_section_is_what_the_real_command_prints(tmp_path):
    """The reference matches ``pairwise export --help`` run as a program, into a pipe."""
    env = {**os.environ, "PYTHONPATH": str(cli_docs.DOC.parent.parent)}
    for path in [(), ("export",), ("study", "create")]:
        printed = subprocess.run(
            [sys.executable, "-m", "pairwise.cli", *path, "--help"],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=True,
        ).stdout  # fmt: skip
        assert printed == cli_docs.help_text(path) + "\n"


def test_check_mode_reports_a_stale_file(tmp_path):
    stale = tmp_path / "cli.md"
    stale.write_text("# old\n", encoding="utf-8")
    assert cli_docs.main(["--check", "--out", str(stale)]) == 1
    assert cli_docs.main(["--out", str(stale)]) == 0
    assert cli_docs.main(["--check", "--out", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == cli_docs.render()
