"""Server time of one annotate-page rerun: a rating button pressed, the judgment stored, the next
comparison leased and the page drawn again.

The app (``annotate_app.py``) runs in Streamlit's ``AppTest``, signed in by invite link as one
annotator of a synthetic store; each timed step is ``button.click().run()``, which executes the
whole script as the server would for a browser's press (without the network and the browser's
drawing). The store calls the page makes on each rerun are timed on their own too, to show where
the time goes.

    python benchmarks/bench_page.py            # 1,000 / 100,000 / 1,000,000 judgments
    python benchmarks/bench_page.py --quick    # 1,000 judgments, a few presses
"""

from __future__ import annotations

import logging
import os
import time
from functools import partial
from pathlib import Path

from _common import (
    ROOT,
    Built,
    Shape,
    build_store,
    fresh_copy,
    median_of,
    options,
    parse,
    percentiles_ms,
    print_table,
    temp_dir,
    time_calls,
)
from streamlit.testing.v1 import AppTest

from pairwise import auth
from pairwise.store import Store

APP = str(ROOT / "annotate_app.py")
# AppTest runs the script outside a server session, and Streamlit warns about that on every run
logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").disabled = True
GOAL_MS = 150.0


def rerun_times(path: Path, token: str, presses: int) -> list[float]:
    """Seconds of each rerun that follows a press of the first rating button."""
    os.environ["PAIRWISE_DB"] = str(path)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["token"] = token
    at.run()
    if at.exception:
        raise RuntimeError(f"the app failed: {at.exception}")
    times = []
    for _ in range(presses):
        rate = next((b for b in at.button if b.key and b.key.startswith("rate-")), None)
        if rate is None:  # nothing left for this annotator
            break
        rate.click()
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
        if at.exception:
            raise RuntimeError(f"the app failed: {at.exception}")
    return times


def progress_times(path: Path, annotator: str, repeat: int) -> dict[str, float]:
    """Median milliseconds of the progress queries the page runs on every rerun."""
    with Store(path) as store:
        study = store.studies()[0]
        person = store.get_annotator(annotator)
        mine = time_calls(partial(store.annotator_progress, study, person.id), repeat)
        overall = time_calls(partial(store.study_progress, study), repeat)
    return {
        "annotator_progress": percentiles_ms(mine)["p50"],
        "study_progress": percentiles_ms(overall)["p50"],
    }


def measure(built: Built, folder: Path, who: str, args) -> dict[str, float]:
    """Median figures over runs, each on a fresh copy of the store."""
    with Store(built.path) as store:
        token = auth.invite(store, who)[1]
    runs = []
    for run in range(args.runs):
        with fresh_copy(built.path, folder / f"run-{run}.db") as path:
            figures = percentiles_ms(rerun_times(path, token, args.presses))
            figures.update(progress_times(path, who, repeat=5))
        runs.append(figures)
    return median_of(runs)


def main() -> None:
    parser = options(__doc__)
    parser.add_argument("--presses", type=int, default=None, help="timed reruns per run")
    parser.add_argument("--heavy-open", type=int, default=10_000)
    args = parse(parser, sizes="1000,100000,1000000", quick_sizes="1000")
    args.presses = args.presses or (5 if args.quick else 60)

    rows = []
    with temp_dir() as folder:
        for size in args.sizes:
            heavy_open = min(args.heavy_open, size // 10)
            shape = Shape(judgments=size, heavy_open=heavy_open)
            built = build_store(folder / f"page-{size}.db", shape)
            for label, who in (("pool annotator", "annotator-0001"), ("heavy", "heavy")):
                figures = measure(built, folder, who, args)
                rows.append(
                    [
                        built.judgments,
                        label,
                        figures["p50"],
                        figures["p95"],
                        figures["p99"],
                        figures["annotator_progress"],
                        figures["study_progress"],
                    ]
                )
                print(f"  {built.judgments:,} {label}: {figures}", flush=True)
    print_table(
        f"Annotate page: server time of a rerun after a rating press, ms"
        f" (median of {args.runs} runs of {args.presses} presses)",
        [
            "judgments",
            "annotator",
            "rerun p50",
            "rerun p95",
            "rerun p99",
            "annotator_progress p50",
            "study_progress p50",
        ],
        rows,
    )
    largest = max(r[0] for r in rows)
    worst = max(r[3] for r in rows if r[0] == largest)
    verdict = "met" if worst < GOAL_MS else "MISSED"
    print(
        f"\ngoal: p95 under {GOAL_MS:.0f} ms at {largest:,} judgments: {verdict} ({worst:.1f} ms)"
    )


if __name__ == "__main__":
    main()
