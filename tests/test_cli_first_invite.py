"""The first invitation turns sign-in on, so ``pairwise invite`` makes it an admin's or refuses.

An annotator invited first would end local demo mode with nobody able to administer the app from
a browser; promoting them to admin unasked would show an annotator model names and reports. The
command refuses, says to add ``--admin``, and writes nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from pairwise import auth
from pairwise.cli import main
from pairwise.store import Store

ROOT = Path(__file__).resolve().parent.parent


def invite(db: str, *args: str):
    return CliRunner().invoke(main, ["--db", db, "invite", *args])


def test_an_annotator_first_is_refused_and_nothing_is_written(new_db):
    db = new_db("fresh", bare=True)
    refused = invite(db, "alice")
    assert refused.exit_code == 1
    assert refused.output.startswith("Error: nobody has been invited yet")
    assert "pairwise invite YOUR-NAME --admin" in refused.output
    with Store(db) as s:
        assert auth.first_invitation(s)
        assert s.token_count() == 0
        assert [p.name for p in s.annotators()] == []


def test_an_admin_first_then_annotators(new_db):
    db = new_db("fresh", bare=True)
    first = invite(db, "ada", "--admin")
    assert first.exit_code == 0, first.output
    assert first.output.startswith("Invited ada (admin).")
    second = invite(db, "alice")
    assert second.exit_code == 0, second.output
    assert second.output.startswith("Invited alice (annotator).")
    with Store(db) as s:
        assert not auth.first_invitation(s)
        assert {p.name: p.role for p in s.annotators()} == {"ada": "admin", "alice": "annotator"}


def test_the_rule_holds_while_no_link_was_ever_issued(new_db):
    """An annotator registered without a link (imported judgments) does not end demo mode."""
    db = new_db("judged")
    with Store(db) as s:
        s.add_annotator("imported-judge")
    assert invite(db, "imported-judge").exit_code == 1
    assert invite(db, "ada", "--admin").exit_code == 0
    assert invite(db, "imported-judge").exit_code == 0


def test_the_real_command_refuses_with_one_line_on_stderr(tmp_path, new_db):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PAIRWISE_DB": new_db("real", bare=True)}
    done = subprocess.run(
        [sys.executable, "-m", "pairwise.cli", "invite", "alice"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("Error: nobody has been invited yet")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
