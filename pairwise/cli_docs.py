"""Write ``docs/cli.md``, the command line reference, from every command's own ``--help``.

``python -m pairwise.cli_docs`` rewrites the file; ``--check`` only says whether it is current
(exit status 1 when not). The text is what ``pairwise ... --help`` prints into a pipe, so the
reference cannot drift from the commands: a test fails while the committed file is stale.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from . import cli

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
WIDTH = 78  # what click fills of an 80-column terminal, and of a pipe

HEADER = """\
# Command line reference

<!-- Generated from every command's --help by `python -m pairwise.cli_docs`: do not edit by hand.
     After adding or changing a command or an option, run it again and commit docs/cli.md
     (tests/test_cli_docs.py fails while this file is stale). -->

Every `pairwise` command with its arguments and options, as `pairwise COMMAND --help` prints
them. Every command takes the global `--db PATH` (or `PAIRWISE_DB`) before its name:
`pairwise --db study.db report`. A problem a user can fix prints `Error: ...` and exits with
status 1; `PAIRWISE_DEBUG=1` shows the traceback of an unexpected one.
"""


def command_paths(
    command: click.Command = cli.main, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    """Every command's words after ``pairwise``, parents before their subcommands: ``()``,
    ``("import",)``, ``("import", "prompts")``..."""
    yield path
    if isinstance(command, click.Group):
        for name in command.list_commands(click.Context(command)):
            sub = command.get_command(click.Context(command), name)
            if sub is not None and not sub.hidden:
                yield from command_paths(sub, (*path, name))


def help_text(path: tuple[str, ...]) -> str:
    """What ``pairwise PATH --help`` prints into a pipe (``WIDTH`` columns)."""
    ctx = click.Context(cli.main, info_name="pairwise", terminal_width=WIDTH)
    command: click.Command = cli.main
    for name in path:
        assert isinstance(command, click.Group)
        sub = command.get_command(ctx, name)
        assert sub is not None, name
        ctx = click.Context(sub, info_name=name, parent=ctx)
        command = sub
    return command.get_help(ctx)


def render() -> str:
    """The whole reference, one section per command."""
    sections = [HEADER]
    for path in command_paths():
        sections.append(f"## {' '.join(('pairwise', *path))}\n\n```text\n{help_text(path)}\n```\n")
    return "\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pairwise.cli_docs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="Only check that the file is current.")
    parser.add_argument("--out", type=Path, default=DOC, help="Default: docs/cli.md.")
    args = parser.parse_args(argv)
    text = render()
    current = args.out.read_text(encoding="utf-8") if args.out.exists() else None
    if args.check:
        if current != text:
            print(f"{args.out} is stale: run python -m pairwise.cli_docs", file=sys.stderr)
            return 1
        return 0
    if current != text:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
