"""The command line starts without the data stack: a property, checked in fresh interpreters.

``pairwise --help`` and ``pairwise invite`` should answer as fast as ``sqlite-utils --help``
(``benchmarks/bench_cli.py`` measures that). What makes them fast is that neither imports pandas,
NumPy, scipy, pyarrow, altair, Streamlit, sqlite-utils (which imports pandas when it can) or, on a
SQLite store, the PostgreSQL libraries (SQLAlchemy, Alembic, psycopg); that
is what these tests check, in a subprocess so that this test session's own imports do not count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from databases import ON_POSTGRES

HEAVY = ("pandas", "numpy", "scipy", "pyarrow", "altair", "streamlit", "sqlite_utils")
# the PostgreSQL libraries: a SQLite store needs none of them, a migrated PostgreSQL store only
# its driver and pool (no Alembic)
HEAVY += ("sqlalchemy", "alembic", "psycopg")
STORE_LIBS = ["psycopg", "sqlalchemy"] if ON_POSTGRES else []
ROOT = Path(__file__).resolve().parent.parent


def heavy_modules_after(code: str, cwd: Path) -> list[str]:
    """Run ``code`` in a fresh interpreter; the heavy top-level packages it left imported."""
    probe = (
        "import json, sys\n"
        f"{code}\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


RUN = """
from pairwise.cli import main

def pairwise(*args):
    try:
        main(list(args), prog_name="pairwise")
    except SystemExit as exit:
        assert not exit.code, exit.code
"""


def test_importing_the_cli_loads_no_data_stack(tmp_path):
    assert heavy_modules_after("import pairwise.cli", tmp_path) == []


def test_every_help_page_loads_no_data_stack(tmp_path):
    code = RUN + (
        "from pairwise.cli_docs import command_paths\n"
        "for path in command_paths():\n"
        "    pairwise(*path, '--help')\n"
    )
    assert heavy_modules_after(code, tmp_path) == []


def call(*args: str) -> str:
    """A line of probe code that runs ``pairwise ARGS``."""
    return f"pairwise{args!r}\n"


@pytest.mark.parametrize("admin", [True, False])
def test_invite_and_revoke_load_no_data_stack(tmp_path, new_db, admin):
    db = new_db("invite")
    if admin:
        code = (
            RUN + call("--db", db, "invite", "ada", "--admin") + call("--db", db, "revoke", "ada")
        )
    else:  # an annotator, invited after the first admin
        first = RUN + call("--db", db, "invite", "ada", "--admin")
        assert heavy_modules_after(first, tmp_path) == STORE_LIBS
        code = RUN + call("--db", db, "invite", "bob") + call("--db", db, "revoke", "bob")
    assert heavy_modules_after(code, tmp_path) == STORE_LIBS


def test_commands_that_need_the_data_stack_still_load_it(tmp_path, new_db):
    """The probe can fail: a report does import pandas."""
    db = new_db("report")
    code = RUN + call("--db", db, "report", "--format", "json", "--bootstrap", "10")
    assert "pandas" in heavy_modules_after(code, tmp_path)
