"""A PostgreSQL server that restarts, or drops a connection, while annotators work: no judgment is
lost or counted twice; a write the server interrupted is retried, or reported, never dropped.

The restart test starts a private PostgreSQL server in a temporary folder (Debian's binaries), so
that restarting it disturbs no other test; it is skipped where PostgreSQL is not installed.
"""

from __future__ import annotations

import glob
import os
import random
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pairwise.demo import ensure_demo
from pairwise.store import Store, StoreError
from pairwise.store.connection import StoreUnavailable, dispose_engines, retried

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))


class Server:
    """A throwaway PostgreSQL cluster: ``initdb`` in a temporary folder, reached on a socket."""

    def __init__(self) -> None:
        self.bin = Path(BINARIES[-1]).parent
        self.folder = Path(tempfile.mkdtemp(prefix="pairwise-pg-"))
        self.data = self.folder / "data"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.user = "postgres" if os.geteuid() == 0 else None  # initdb refuses root
        if self.user:
            shutil.chown(self.folder, self.user)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.start()
        self.url = f"postgresql://postgres@/postgres?host={self.folder}&port={self.port}"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses='' -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-w",
            "-l",
            str(self.folder / "log"),
            "start",
        )

    def restart(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        self.start()

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def server() -> Iterator[Server]:
    if not BINARIES:
        pytest.skip("PostgreSQL's server binaries are not installed")
    found = Server()
    try:
        yield found
    finally:
        dispose_engines()
        found.stop()


def _judge(store: Store, annotator: str, rng: random.Random) -> bool:
    """One item for ``annotator``: lease it and judge it. False when nothing is left."""
    study = store.get_study("demo")
    who = store.ensure_annotator(annotator)
    got = store.next_comparison(study, who.id, rng=rng)
    if got is None:
        return False
    result = store.record_judgment(
        got.comparison_id, who.id, score=rng.choice([-2, 0, 1]), shown_order=got.shown_order
    )
    assert result.status == "stored"
    return True


def test_a_server_restart_between_judgments_loses_none(server: Server) -> None:
    store = Store(server.url)
    ensure_demo(store, PROMPTS_DIR)
    rng = random.Random(3)
    judged = 0
    for round_ in range(6):
        for annotator in ("ana", "ben"):
            judged += _judge(store, annotator, rng)
        server.restart("fast" if round_ % 2 else "immediate")  # clean, then as after a crash
    for annotator in ("ana", "ben"):
        judged += _judge(store, annotator, rng)
    assert judged == 14
    rows = store.conn.execute(
        "SELECT count(*), count(DISTINCT comparison_id || '/' || annotator_id) FROM judgments"
    ).fetchone()
    assert tuple(rows) == (14, 14)
    assert store.study_progress(store.get_study("demo"))["judgments"] == 14
    store.close()


def test_a_write_whose_connection_the_server_drops_is_rolled_back_and_reported(
    server: Server,
) -> None:
    store = Store(server.url)
    ensure_demo(store, PROMPTS_DIR)
    who = store.ensure_annotator("ana")
    lost = r"cannot reach the database at .*/postgres: "
    with pytest.raises(StoreUnavailable, match=lost), store.transaction() as conn:
        conn.execute("UPDATE annotators SET email = 'half@example.org' WHERE id = ?", [who.id])
        conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    assert not store.conn.in_transaction
    assert store.get_annotator("ana").email is None  # nothing half-written
    assert _judge(store, "ana", random.Random(0))  # and the store works on
    store.close()


class _DroppedOnce(Store):
    """A store whose next judgment loses its connection half-way, once (the server ends it)."""

    drop = True

    def _drop_lease(self, conn, comparison_id, annotator_id):  # type: ignore[no-untyped-def]
        if self.drop:
            self.drop = False
            conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        super()._drop_lease(conn, comparison_id, annotator_id)


def test_a_judgment_interrupted_by_a_lost_connection_is_stored_once_by_the_retry(
    server: Server,
) -> None:
    store = _DroppedOnce(server.url)
    ensure_demo(store, PROMPTS_DIR)
    study = store.get_study("demo")
    who = store.ensure_annotator("ana")
    got = store.next_comparison(study, who.id, rng=random.Random(1))
    assert got is not None
    result = store.record_judgment(got.comparison_id, who.id, score=2, shown_order="AB")
    assert result.status == "stored" and store.drop is False
    assert store.conn.execute("SELECT count(*) FROM judgments").fetchone()[0] == 1
    assert store.study_progress(study)["judgments"] == 1
    store.close()


def test_a_server_that_stays_down_is_reported_in_one_line(server: Server) -> None:
    store = Store(server.url)
    server._run("pg_ctl", "-D", str(server.data), "-m", "fast", "-w", "stop")
    try:
        with pytest.raises(StoreUnavailable, match=r"^cannot reach the database at .*/postgres: "):
            store.annotators()
        assert isinstance(StoreUnavailable("x"), StoreError)
    finally:
        server.start()
    assert store.annotators() == []
    store.close()


def test_the_retry_repeats_a_write_only_outside_a_callers_transaction() -> None:
    calls = []

    class Fake:
        class conn:  # noqa: N801 - stands for the store's connection attribute
            in_transaction = False

        @retried
        def write(self) -> str:
            calls.append(1)
            if len(calls) == 1:
                raise StoreUnavailable("cannot reach the database at h:5432/d: gone")
            return "done"

    assert Fake().write() == "done" and len(calls) == 2
    calls.clear()
    Fake.conn.in_transaction = True
    with pytest.raises(StoreUnavailable):
        Fake().write()
    assert len(calls) == 1
