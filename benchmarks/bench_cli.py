"""How long the ``pairwise`` command takes to answer, next to ``sqlite-utils --help``.

A command that only prints help or writes one row should answer at once. Each command below runs
as a fresh process (the installed console scripts, this checkout first on ``PYTHONPATH``), in
rounds: every round runs each command once, in the same order, so that a busy spell on the
machine hits all of them alike. The figure is the median wall time over the rounds, and its ratio
to ``sqlite-utils --help`` measured in the same run (sqlite-utils imports pandas when it is
installed, as it is here). ``python -c pass`` is the floor: starting the interpreter.

    python benchmarks/bench_cli.py             # 21 rounds
    python benchmarks/bench_cli.py --quick     # 3 rounds
    python benchmarks/bench_cli.py --other ../old-checkout   # also time another checkout's --help
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, print_table, temp_dir


def script(name: str) -> str:
    """The console script ``name`` installed beside this Python, else the first on the PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        sys.exit(f"{name} is not installed (pip install -e . installs pairwise and sqlite-utils)")
    return found


def wall_time(command: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--rounds", type=int, help="runs of each command (default 21, quick 3)")
    parser.add_argument(
        "--other", type=Path, help="another checkout of pairwise (e.g. a git worktree of an"
        " older commit) whose pairwise --help is timed alongside",
    )  # fmt: skip
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 21)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    pairwise, sqlite_utils = script("pairwise"), script("sqlite-utils")

    with temp_dir() as folder:
        db = str(folder / "bench.db")
        subprocess.run([pairwise, "--db", db, "invite", "ada", "--admin"], env=env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        baseline = "sqlite-utils --help"
        commands: dict[str, list[str] | None] = {
            "python -c pass": [sys.executable, "-c", "pass"],
            baseline: [sqlite_utils, "--help"],
            "pairwise --help": [pairwise, "--help"],
            "pairwise export --help": [pairwise, "export", "--help"],
            "pairwise invite NAME": None,  # a new name each round, on a store with an admin
            "pairwise study list": [pairwise, "--db", db, "study", "list"],
            "import pandas, scipy.stats, pyarrow, altair": [
                sys.executable,
                "-c",
                "import pandas, scipy.stats, pyarrow, altair",
            ],  # fmt: skip
        }
        if args.other is not None:
            other = {**env, "PYTHONPATH": str(args.other.resolve())}
            commands["pairwise --help (other checkout)"] = [pairwise, "--help"]
        times: dict[str, list[float]] = {label: [] for label in commands}
        for round_ in range(rounds):
            for label, command in commands.items():
                if command is None:
                    command = [pairwise, "--db", db, "invite", f"person-{round_}"]
                runs_in = other if label.endswith("(other checkout)") else env
                times[label].append(wall_time(command, runs_in, folder))

    base = statistics.median(times[baseline])
    rows = [
        (label, statistics.median(t) * 1000, min(t) * 1000, f"{statistics.median(t) / base:.2f}")
        for label, t in times.items()
    ]
    print_table(
        f"Command start-up, median of {rounds} runs (ms); ratio to {baseline} in this run",
        ["command", "median ms", "fastest ms", f"ratio to {baseline}"],
        rows,
    )


if __name__ == "__main__":
    main()
