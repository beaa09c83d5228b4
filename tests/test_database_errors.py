"""A database that cannot be used: one line naming host, database and reason, exit status 1.

The unreachable port and the malformed URLs need no server and always run; wrong credentials and
a missing database need the PostgreSQL server of ``PAIRWISE_TEST_DATABASE_URL``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url
from streamlit.testing.v1 import AppTest

from pairwise.cli import main

APP = Path(__file__).resolve().parent.parent / "annotate_app.py"
SERVER = os.environ.get("PAIRWISE_TEST_DATABASE_URL")
needs_server = pytest.mark.skipif(not SERVER, reason="PAIRWISE_TEST_DATABASE_URL is not set")
PASSWORD = "s3cret-never-shown"
UNREACHABLE = f"postgresql://pairwise:{PASSWORD}@127.0.0.1:1/copy_nowhere"

# every kind of command: schema, imports, studies, people, reports, exports, copies
COMMANDS = (
    ["init"],
    ["import", "prompts", "{prompts}"],
    ["study", "list"],
    ["invite", "ada", "--admin"],
    ["report", "--format", "json"],
    ["export", "{out}"],
    ["copy", "{db}", "{sqlite}"],
    ["copy", "{sqlite}", "{db}"],
)


def fails_in_one_line(db: str, args: list[str], tmp_path) -> str:
    """Run ``pairwise`` on ``db``; check it fails as a user error and return its one line."""
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"id": "p1", "prompt": "Hi?"}\n', encoding="utf-8")
    sqlite = tmp_path / "local.db"
    if args[0] == "copy" and args[1] == "{sqlite}":
        CliRunner().invoke(main, ["--db", str(sqlite), "init"])  # a source that exists
    filled = [
        a.format(prompts=prompts, out=tmp_path / "out.jsonl", db=db, sqlite=sqlite) for a in args
    ]
    result = CliRunner().invoke(main, ["--db", db, *filled])
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output and PASSWORD not in result.output
    return lines[0]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: " ".join(args[:2]))
def test_an_unreachable_server(args, tmp_path):
    line = fails_in_one_line(UNREACHABLE, args, tmp_path)
    assert "127.0.0.1:1/copy_nowhere" in line
    assert "refused" in line.lower()


@pytest.mark.parametrize(
    ("url", "named"),
    [
        (f"postgresql://pairwise:{PASSWORD}@127.0.0.1:notaport/copy_db", "copy_db"),
        (f"postgresql://pairwise:{PASSWORD}@no-such-host.invalid:5432/copy_db", "no-such-host"),
        (f"postgresql://pairwise:{PASSWORD}@127.0.0.1:5432", "127.0.0.1"),
        (f"mysql://pairwise:{PASSWORD}@127.0.0.1/copy_db", "mysql"),
    ],
    ids=["port", "host", "no-database", "scheme"],
)
def test_a_malformed_url(url, named, tmp_path):
    line = fails_in_one_line(url, ["study", "list"], tmp_path)
    assert named in line


def _server_url(**parts: str) -> str:
    url = make_url(SERVER).set(**parts)
    return url.render_as_string(hide_password=False)


@needs_server
@pytest.mark.parametrize("args", COMMANDS[:3], ids=lambda args: " ".join(args[:2]))
def test_a_missing_database(args, tmp_path):
    name = f"copy_missing_{secrets.token_hex(4)}"
    url = make_url(SERVER)
    line = fails_in_one_line(_server_url(database=name), args, tmp_path)
    assert f"{url.host}:{url.port or 5432}/{name}" in line
    assert "does not exist" in line


@needs_server
def test_an_unknown_role(tmp_path):
    line = fails_in_one_line(
        _server_url(username="copy_nobody", password=PASSWORD), ["study", "list"], tmp_path
    )
    assert make_url(SERVER).database in line
    assert "copy_nobody" in line


@needs_server
def test_a_wrong_password(tmp_path):
    import psycopg

    wrong = _server_url(password=PASSWORD)
    try:
        psycopg.connect(
            make_url(wrong).set(drivername="postgresql").render_as_string(False)
        ).close()
    except psycopg.OperationalError:
        pass
    else:
        pytest.skip("the test server lets this role in without a password")
    line = fails_in_one_line(wrong, ["study", "list"], tmp_path)
    assert make_url(SERVER).database in line and "password authentication failed" in line


def test_the_app_shows_one_message_for_a_database_it_cannot_reach(monkeypatch):
    monkeypatch.setenv("PAIRWISE_DB", UNREACHABLE)
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert len(at.error) == 1
    shown = at.error[0].value
    assert "database" in shown and "reach" in shown
    assert PASSWORD not in shown and "Traceback" not in shown
