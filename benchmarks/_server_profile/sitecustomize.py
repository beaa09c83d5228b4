"""Profiling inside the app server, for ``bench_server.py --profile``.

Python imports ``sitecustomize`` at start-up when its folder is on ``PYTHONPATH``; the benchmark
puts this folder there for the server only. With ``PAIRWISE_PROFILE=OUT`` set, every script run
(one per rating, sign-in or page load, each in a script thread of its own) is profiled with
pyinstrument while the file ``OUT.on`` exists (the benchmark creates it for its measured window),
and the thread CPU seconds of those runs are added up. At exit the combined profile is written to
``OUT.txt``, ``OUT-flat.txt`` (each function's total time over all threads) and
``OUT.html``, and the script threads' CPU seconds and run count to ``OUT.json``:
the process's CPU less that is the server's own work (websocket, protobuf, the event loop).
"""

from __future__ import annotations

import os

_OUT = os.environ.get("PAIRWISE_PROFILE")

if _OUT:
    import atexit
    import json
    import threading
    import time

    from pyinstrument import Profiler
    from pyinstrument.renderers import ConsoleRenderer, HTMLRenderer
    from pyinstrument.session import Session
    from streamlit.runtime.scriptrunner import script_runner

    _lock = threading.Lock()
    _sessions: list[Session] = []
    _cpu = {"script_cpu_seconds": 0.0, "runs": 0}
    _run_script = script_runner.ScriptRunner._run_script

    def _profiled(self, *args, **kwargs):
        if not os.path.exists(f"{_OUT}.on"):
            return _run_script(self, *args, **kwargs)
        profiler = Profiler(interval=0.001)
        start = time.thread_time()
        profiler.start()
        try:
            return _run_script(self, *args, **kwargs)
        finally:
            session = profiler.stop()
            spent = time.thread_time() - start
            with _lock:
                _sessions.append(session)
                _cpu["script_cpu_seconds"] += spent
                _cpu["runs"] += 1

    script_runner.ScriptRunner._run_script = _profiled

    @atexit.register
    def _write() -> None:
        with _lock:
            with open(f"{_OUT}.json", "w") as out:
                json.dump(_cpu, out)
            if not _sessions:
                return
            combined = _sessions[0]
            for session in _sessions[1:]:
                combined = Session.combine(combined, session)
        with open(f"{_OUT}.txt", "w") as out:
            out.write(ConsoleRenderer(unicode=True, time="percent_of_total").render(combined))
        with open(f"{_OUT}-flat.txt", "w") as out:  # each function's total, over all threads
            flat = ConsoleRenderer(unicode=True, flat=True, flat_time="total", show_all=True)
            out.write(flat.render(combined))
        with open(f"{_OUT}.html", "w") as out:
            out.write(HTMLRenderer().render(combined))
