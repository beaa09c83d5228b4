"""Writing output files all-or-nothing, with the permissions a new file normally gets.

A report or an export is first written to a temporary file in the target folder, flushed to disk
and then renamed over the target, so that a crash leaves the previous file (or none), never half
of one. Temporary files are created private (mode 0600); before the rename the file is given the
mode ``open()`` would have given a new file under the user's umask (0644 under umask 022), so
that a colleague or a web server can read a report exactly as they could read any other file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path


def new_file_mode() -> int:
    """The mode of a new regular file under the process's umask (``0o666 & ~umask``).

    Linux reports the umask in ``/proc/self/status``; elsewhere it is read by setting it and
    putting it back at once (which is why the first way is preferred: threads share the umask).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o077)
    os.umask(umask)
    return 0o666 & ~umask


def replace_all(jobs: Sequence[tuple[Path, Callable[[Path], None]]]) -> None:
    """Run each ``(target, write)`` job into a temporary file beside ``target``; when every one
    has succeeded, move them all into place. On any error no target is touched."""
    mode = new_file_mode()
    temps: list[tuple[Path, Path]] = []
    try:
        for target, write in jobs:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".part", dir=target.parent
            )
            os.close(fd)
            temps.append((Path(name), target))
            write(Path(name))
            with open(name, "rb") as handle:
                os.fsync(handle.fileno())
            os.chmod(name, mode)
        for temp, target in temps:
            os.replace(temp, target)
    finally:
        for temp, _ in temps:
            temp.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` all-or-nothing (see :func:`replace_all`)."""
    replace_all([(Path(path), lambda temp: temp.write_bytes(data))])
