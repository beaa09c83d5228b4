"""Capacity of one app process: the real server, annotators in Chromium and over its websocket.

Starts ``streamlit run annotate_app.py`` (this checkout) on a free port with a fresh synthetic
store (``_common.build_store``: 20 models, overlap 3, responses of about 1,500 characters, the
demo study's guidelines), invites the annotators, and measures two things:

- **browser**: one annotator in headless Chromium (Debian's ``/usr/bin/chromium``) opens their
  invite link and presses a rating key as soon as the next item is on the page, for
  ``--seconds``. Latency runs from the key press to the next item on the page with the run
  finished (its nonce changed, nothing stale, Streamlit's script state "notRunning"). A key press
  that sends nothing to the server within 5 s (the page refused it, or it was lost) is counted
  under "keys not taken" and pressed again; the latency is that of the press that was sent.
- **socket**: ``--annotators`` simulated annotators (50 and 100 by default), each a websocket
  client speaking Streamlit's own protocol (``/_stcore/stream``, ``BackMsg`` / ``ForwardMsg``
  protobufs from ``streamlit.proto``) as the browser does: it opens its invite link (a run with
  ``token=...`` in the query string, which signs in and starts a session), reads each item from the
  delta messages (the two responses and the scale's buttons, named by the item's nonce), and
  rates by sending the button's trigger, exactly the message a browser sends for a key press
  (widget id, ``trigger_value``, page hash and, for a button inside a fragment, the fragment id).
  Each presses once every ``--interval`` seconds (10 by default; random phase), after the item
  is there. Latency runs from sending the press to the end of the run that shows the next item
  (``script_finished``). Every frame received is searched for a model name (there must be none).

For each, the server process's CPU seconds (user + system, from ``/proc/<pid>/stat``) over the
measured window divided by the judgments made in it, and its resident memory at the end. At the end every judgment is checked in the
database: each annotator has exactly as many rows as presses that moved on, and each row is the
item they saw (its two texts in the side order stored) with the score of the button pressed.

    python benchmarks/bench_server.py                     # Chromium 60 s, then 50 and 100 clients
    python benchmarks/bench_server.py --quick             # a smoke run of about a minute
    python benchmarks/bench_server.py --only socket --annotators 100 --profile /tmp/prof
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from _common import ROOT, Shape, build_store, print_table, temp_dir
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from pairwise import auth
from pairwise.render import keep_line_breaks, safe_markdown
from pairwise.scales import Scale, orient
from pairwise.store import Store
from tests.e2e.driver import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, Server, serving

GUIDELINES = (ROOT / "prompts" / "guidelines.md").read_text(encoding="utf-8")
PROFILER_PATH = ROOT / "benchmarks" / "_server_profile"
#: Synthetic model names are ``model-00`` ... ``model-19``; no frame may carry one.
MODEL_NAME = re.compile(rb"model-\d\d")
RATE_ID = re.compile(r"-rate-([0-9a-f]+)-(\w+)$")
#: The synthetic study's scale: each button's value for the left response, by its shortcut.
VALUES = {choice.shortcut: choice.value for choice in Scale(7).choices()}
PRESS_TIMEOUT = 180.0


# -- the server ------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (``/proc/<pid>/stat`` fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (``VmRSS`` in ``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def prepare(folder: Path, people: int, judgments: int) -> tuple[Path, list[tuple[str, str]]]:
    """A fresh store part way through annotation, and ``people`` new annotators' names and
    invite tokens (an admin is invited first, as on a real deployment)."""
    db = folder / "server.db"
    build_store(db, Shape(judgments=judgments, response_chars=1_500))
    with Store(db) as store:
        with store.transaction():
            store.conn.execute("UPDATE studies SET guidelines = ?", [GUIDELINES])
        auth.invite(store, "bench-admin", admin=True)
        invited = [(f"sim-{i:03d}", auth.invite(store, f"sim-{i:03d}")[1]) for i in range(people)]
    return db, invited


@contextlib.contextmanager
def app_server(db: Path, profile: Path | None) -> Iterator[Server]:
    """The app on ``db``, importing this checkout (and profiling its runs with ``profile``)."""
    paths = [str(ROOT)]
    env = {}
    if profile is not None:
        paths.insert(0, str(PROFILER_PATH))
        env["PAIRWISE_PROFILE"] = str(profile)
    env["PYTHONPATH"] = os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])
    with serving(str(db), db.parent, env=env) as server:
        yield server


@contextlib.contextmanager
def window(server: Server, profile: Path | None) -> Iterator[dict[str, float]]:
    """The measured window: the server's CPU seconds and the wall time it spans."""
    marker = Path(f"{profile}.on") if profile is not None else None
    if marker is not None:
        marker.touch()
    figures: dict[str, float] = {}
    cpu, wall = cpu_seconds(server.process.pid), time.monotonic()
    try:
        yield figures
    finally:
        figures["cpu"] = cpu_seconds(server.process.pid) - cpu
        figures["rss"] = rss_mb(server.process.pid)
        figures["wall"] = time.monotonic() - wall
        if marker is not None:
            marker.unlink(missing_ok=True)


# -- what each annotator saw and pressed, checked against the database -----------------------


@dataclass
class Rated:
    """One press that moved on: the texts shown left and right and the value pressed."""

    left: str
    right: str
    value: int
    noticed: bool = False  # the page said the rating was not stored (completed meanwhile)


def check_stored(db: Path, name: str, rated: list[Rated]) -> None:
    """Each press that moved on is one row, in order, for the item shown, with its score."""
    with Store(db) as store:
        rows = store.conn.execute(
            "SELECT j.score, j.shown_order, ra.content, rb.content FROM judgments j"
            " JOIN annotators a ON a.id = j.annotator_id"
            " JOIN comparisons c ON c.id = j.comparison_id"
            " JOIN responses ra ON ra.id = c.response_a JOIN responses rb ON rb.id = c.response_b"
            " WHERE a.name = ? ORDER BY j.id",
            [name],
        ).fetchall()
    stored = [r for r in rated if not r.noticed]
    if len(rows) != len(stored):
        raise AssertionError(f"{name}: {len(stored)} ratings made, {len(rows)} rows stored")
    for row, seen in zip(rows, stored, strict=True):
        score, order, a, b = row
        left, right = (a, b) if order == "AB" else (b, a)
        shown = (keep_line_breaks(safe_markdown(left)), keep_line_breaks(safe_markdown(right)))
        if shown != (seen.left, seen.right) or score != orient(seen.value, order):
            raise AssertionError(f"{name}: a stored row is not the item rated")


# -- the browser ------------------------------------------------------------------------------


def browser_run(
    server: Server, profile: Path | None, token: str, seconds: float, seed: int
) -> dict[str, object]:
    """One annotator in Chromium rating by key for ``seconds`` once their first item is shown:
    latencies, lost keys and the window's CPU seconds."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    from tests.e2e.driver import next_item

    rng = random.Random(seed)
    latencies: list[float] = []
    lost = 0
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = chromium.new_page(viewport=VIEWPORT)
        page.set_default_timeout(120_000)
        sockets: list = []
        page.on("websocket", lambda ws: sockets.append(ws))
        page.goto(f"{server.url}/?token={token}")
        nonce = next_item(page, None)
        page.locator(".st-key-annotate-scale button").first.wait_for()  # drawn and shown
        with window(server, profile) as spent:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                key = str(rng.randint(1, 7))
                start = time.perf_counter()
                try:
                    with sockets[-1].expect_event("framesent", timeout=5_000):
                        page.keyboard.press(key)
                except PlaywrightTimeout:
                    lost += 1
                    continue
                nonce = next_item(page, nonce)
                latencies.append(time.perf_counter() - start)
        chromium.close()
    return {"latencies": latencies, "lost": lost, "spent": spent}


# -- the websocket client -----------------------------------------------------------------------


@dataclass
class Item:
    """The item on a simulated page: its nonce, the scale's widget ids by value, its texts."""

    nonce: str
    buttons: dict[int, str]
    fragment: str
    texts: list[str]


@dataclass
class SimulatedAnnotator:
    """A browser tab reduced to its protocol: sends what the page would, reads the deltas."""

    name: str
    token: str
    url: str
    rated: list[Rated] = field(default_factory=list)
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (sent at, seconds)
    behind: int = 0
    leaks: int = 0
    page_hash: str = ""
    item: Item | None = None
    _cache: dict[str, ForwardMsg] = field(default_factory=dict)

    async def open(self) -> None:
        ws_url = self.url.replace("http://", "ws://") + "/_stcore/stream"
        self.ws = await connect(ws_url, subprotocols=[Subprotocol("streamlit")], max_size=None)
        await self._run(query=f"token={self.token}")
        if self.item is None:
            raise AssertionError(f"{self.name}: no item after signing in")

    async def press(self, value: int) -> float:
        """Rate the item on the page with ``value``; seconds until the next item's run ended."""
        item = self.item
        if item is None:
            raise AssertionError(f"{self.name}: nothing to rate")
        start = time.perf_counter()
        await self._run(widget=item.buttons[value], fragment=item.fragment)
        seconds = time.perf_counter() - start
        left, right = _responses(item.texts)
        noticed = any("completed by others" in t for t in self.item.texts)
        self.rated.append(Rated(left, right, value, noticed))
        return seconds

    async def _run(self, query: str = "", widget: str = "", fragment: str = "") -> None:
        message = BackMsg()
        state = message.rerun_script
        state.query_string = query
        state.page_script_hash = self.page_hash
        if widget:
            trigger = state.widget_states.widgets.add()
            trigger.id = widget
            trigger.trigger_value = True
        if fragment:
            state.fragment_id = fragment
        info = state.context_info
        info.timezone, info.timezone_offset, info.locale = "UTC", 0, "en-US"
        info.url, info.color_scheme = self.url + "/", "light"
        await self.ws.send(message.SerializeToString())
        previous = self.item.nonce if self.item else None
        found: Item | None = None
        texts: list[str] = []
        while True:
            frame = await asyncio.wait_for(self.ws.recv(), PRESS_TIMEOUT)
            if MODEL_NAME.search(frame):
                self.leaks += 1
            msg = ForwardMsg.FromString(frame)
            kind = msg.WhichOneof("type")
            if kind == "ref_hash":
                msg = self._cache[msg.ref_hash]
                kind = msg.WhichOneof("type")
            elif msg.metadata.cacheable:
                self._cache[msg.hash] = msg
            if kind == "navigation":
                self.page_hash = msg.navigation.page_script_hash
            elif kind == "delta":
                found = _read_delta(msg, found, texts, previous)
            elif kind == "script_finished" and found is not None and len(found.buttons) >= 2:
                found.texts = texts
                self.item = found
                return


def _read_delta(msg: ForwardMsg, found: Item | None, texts: list[str], previous: str | None):
    """Collect the texts and the new item's rating buttons from one delta."""
    if msg.delta.WhichOneof("type") != "new_element":
        return found
    element = msg.delta.new_element
    kind = element.WhichOneof("type")
    in_main = msg.metadata.delta_path[:1] == [0]
    if kind == "markdown" and in_main:
        texts.append(element.markdown.body)
    elif kind == "alert" and in_main:
        texts.append(element.alert.body)
    elif kind == "button":
        match = RATE_ID.search(element.button.id)
        if match and match.group(1) != previous:
            if found is None or found.nonce != match.group(1):
                found = Item(match.group(1), {}, msg.delta.fragment_id, [])
            found.buttons[VALUES[match.group(2)]] = element.button.id
    return found


def _responses(texts: list[str]) -> tuple[str, str]:
    """The two responses: the last two Markdown texts of the main area (the buttons, the note
    and the script that follow them are other elements)."""
    bodies = [t for t in texts if "completed by others" not in t]
    return bodies[-2], bodies[-1]


async def sign_in(url: str, invited: list[tuple[str, str]]) -> list[SimulatedAnnotator]:
    """The simulated annotators, each signed in with their link and holding an item."""
    people = [SimulatedAnnotator(name, token, url) for name, token in invited]
    gate = asyncio.Semaphore(8)  # a few at a time, as people arrive

    async def one(person: SimulatedAnnotator) -> None:
        async with gate:
            await person.open()

    await asyncio.gather(*(one(p) for p in people))
    return people


async def annotate(
    people: list[SimulatedAnnotator], interval: float, seconds: float, seed: int
) -> None:
    """Each presses a rating every ``interval`` seconds (random phase) for ``seconds``; a press
    waits for its item, and one that falls behind its time is counted as late."""
    rng = random.Random(seed)
    start = time.perf_counter()
    end = start + seconds

    async def one(person: SimulatedAnnotator, phase: float, values: random.Random) -> None:
        due = start + phase
        while due < end:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            sent = time.perf_counter()
            person.latencies.append((sent, await person.press(_scale_value(values))))
            due += interval
            if due < time.perf_counter():
                person.behind += 1
                due = time.perf_counter()

    await asyncio.gather(
        *(one(p, rng.uniform(0, interval), random.Random(rng.random())) for p in people)
    )


def _scale_value(values: random.Random) -> int:
    return values.choice(list(VALUES.values()))


# -- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of about a minute")
    parser.add_argument("--only", choices=["browser", "socket"], help="one of the two clients")
    parser.add_argument("--seconds", type=float, help="measured seconds per run (default 60)")
    parser.add_argument("--annotators", help="simulated annotators per run (default 50,100)")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between presses")
    parser.add_argument("--judgments", type=int, default=20_000, help="judgments in the store")
    parser.add_argument("--profile", type=Path, help="profile the server's runs into PATH.*")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    seconds = args.seconds or (15.0 if args.quick else 60.0)
    crowds = [int(n) for n in (args.annotators or ("5" if args.quick else "50,100")).split(",")]
    rows = []
    with temp_dir() as folder:
        if args.only in (None, "browser"):
            rows.append(measure_browser(folder / "browser", seconds, args))
        if args.only in (None, "socket"):
            for n in crowds:
                rows.append(measure_socket(folder / f"socket-{n}", n, seconds, args))
    print_table(
        f"Capacity of one app process (`{' '.join(_command())}`)",
        [
            "client",
            "annotators",
            "judgments",
            "judgments/s",
            "CPU ms / judgment",
            "latency p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "late presses",
            "keys not taken",
            "server MB",
        ],
        rows,
    )
    if args.profile:
        print(f"\nprofiles of the runs: {args.profile}-<client>.txt and .html, script CPU in .json")


def _command() -> list[str]:
    import sys

    return ["python", "benchmarks/bench_server.py", *sys.argv[1:]]


def measure_browser(folder: Path, seconds: float, args: argparse.Namespace) -> list[object]:
    folder.mkdir()
    db, invited = prepare(folder, 1, args.judgments)
    profile = args.profile.with_name(args.profile.name + "-browser") if args.profile else None
    with app_server(db, profile) as server:
        result = browser_run(server, profile, invited[0][1], seconds, args.seed)
    spent = result["spent"]
    latencies = result["latencies"]
    with Store(db) as store:
        stored = store.conn.execute(
            "SELECT count(*) FROM judgments j JOIN annotators a ON a.id = j.annotator_id"
            " WHERE a.name = ?",
            [invited[0][0]],
        ).fetchone()[0]
    if stored != len(latencies):
        raise AssertionError(f"{len(latencies)} key presses moved on, {stored} rows stored")
    return _row("Chromium, one annotator", 1, len(latencies), spent, latencies, 0, result["lost"])


def measure_socket(folder: Path, n: int, seconds: float, args: argparse.Namespace) -> list[object]:
    folder.mkdir()
    db, invited = prepare(folder, n, args.judgments)
    profile = args.profile.with_name(f"{args.profile.name}-socket-{n}") if args.profile else None

    async def run(server: Server) -> tuple[list[SimulatedAnnotator], dict[str, float]]:
        people = await sign_in(server.url, invited)
        with window(server, profile) as spent:
            await annotate(people, args.interval, seconds, args.seed)
        for person in people:
            await person.ws.close()
        return people, spent

    with app_server(db, profile) as server:
        people, spent = asyncio.run(run(server))
    for person in people:
        check_stored(db, person.name, person.rated)
        if person.leaks:
            raise AssertionError(f"{person.name} received {person.leaks} frames naming a model")
    latencies = [seconds for p in people for _, seconds in p.latencies]
    late = sum(p.behind for p in people)
    client = f"websocket, a press every {args.interval:g} s each"
    return _row(client, n, len(latencies), spent, latencies, late, 0)


def _row(client, n, judgments, spent, latencies, late, lost) -> list[object]:
    ms = np.asarray(latencies) * 1000.0
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return [
        client,
        n,
        judgments,
        judgments / spent["wall"],
        1000.0 * spent["cpu"] / judgments,
        float(p50),
        float(p95),
        float(p99),
        float(ms.max()),
        late,
        lost,
        spent["rss"],
    ]


if __name__ == "__main__":
    main()
