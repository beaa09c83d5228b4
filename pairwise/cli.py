"""The ``pairwise`` command line: a thin layer over the library, for terminals and scripts.

Each command parses its options, calls the library and prints a short summary. Problems a user
can fix (a bad file, an unknown study, a locked database) print ``Error: <message>`` and exit
with status 1, never a traceback; ``PAIRWISE_DEBUG=1`` shows the traceback of an unexpected one.

Start-up stays light: ``pairwise --help`` and ``pairwise invite`` must not wait for pandas, scipy,
pyarrow or altair. This module imports only click and the light parts of the library (store, auth,
ingest, the format names); a command that needs the data stack imports its module (``report``,
``export``, ``demo``...) inside its own function. ``tests/test_cli_startup.py`` holds that line.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from . import auth, progress
from .formats import EXPORT_AGGREGATIONS, EXPORT_FORMATS, EXPORT_JUDGES, REPORT_FORMATS
from .ingest import (
    IngestError,
    StudySpec,
    create_study,
    import_judgments,
    import_prompts,
    import_responses,
    import_scores,
    read_prompt_ids,
)
from .store import Store, StoreError, Study

USER_ERRORS = (IngestError, StoreError, ValueError, OSError)
_PASSWORD_IN_URL = re.compile(r"(\b[A-Za-z][\w+.-]*://[^:/@\s]*):\S*@")


def without_passwords(text: str) -> str:
    """``text`` with the password of any URL in it masked: an error line may quote ``--db``."""
    return _PASSWORD_IN_URL.sub(r"\1:***@", text)


def database_problem(error: BaseException) -> str | None:
    """The first line of an error the database raised, on either backend, or ``None`` for any
    other error. The driver modules are looked up, not imported: a command that never opened a
    PostgreSQL store does not pay for importing them."""
    kinds: list[type[BaseException]] = [sqlite3.Error]
    sqlalchemy_errors = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_errors is not None:
        if isinstance(error, sqlalchemy_errors.DBAPIError) and error.orig is not None:
            error = error.orig  # the driver's own message, without the SQL and the help link
        kinds.append(sqlalchemy_errors.SQLAlchemyError)
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        kinds.append(psycopg.Error)
    if not isinstance(error, tuple(kinds)):
        return None
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines else type(error).__name__


class _Group(click.Group):
    """A group that reports library errors as ``Error: ...`` (exit status 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except USER_ERRORS as e:
            raise click.ClickException(without_passwords(str(e))) from None
        except Exception as e:
            problem = database_problem(e)
            if problem is not None:
                raise click.ClickException(
                    without_passwords(f"the database failed: {problem}")
                ) from None
            if os.environ.get("PAIRWISE_DEBUG"):
                raise
            raise click.ClickException(
                f"unexpected {type(e).__name__}: {e} (PAIRWISE_DEBUG=1 shows the traceback)"
            ) from None


class App:
    """What every command shares: the database path, and the store opened on first use."""

    def __init__(self, db: str) -> None:
        self.db = db
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            try:
                self._store = Store(self.db)
            except StoreError:
                raise  # says which database, and why
            except Exception as e:
                # a URL the driver cannot read (ValueError), or the driver's own error
                problem = str(e) if isinstance(e, ValueError) else database_problem(e)
                if problem is None:
                    raise
                raise click.ClickException(
                    without_passwords(f"cannot open the database {self.db}: {problem}")
                ) from None
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


@contextlib.contextmanager
def progress_bar() -> Iterator[None]:
    """Draw the library's progress as bars on standard error while the block runs, one bar per
    stage (reading, checking, writing...), when standard error is a terminal; otherwise (a pipe,
    a file, a test runner) draw nothing, so that scripts and logs get only the results."""
    if not sys.stderr.isatty():
        yield
        return
    shown: dict[str, Any] = {}  # the stage on screen, its bar, and its last count

    def finish() -> None:
        if shown:
            shown["bar"].render_finish()
            shown.clear()

    def draw(stage: str, done: int, total: int) -> None:
        if not shown or shown["stage"] != stage or done < shown["done"] or total != shown["total"]:
            finish()
            bar = click.progressbar(length=total, label=stage.capitalize(), file=sys.stderr)
            shown.update(stage=stage, bar=bar, done=0, total=total)
            bar.render_progress()
        shown["bar"].update(done - shown["done"])
        shown["done"] = done

    try:
        with progress.reporting(draw):
            yield
    finally:
        finish()


def pass_store(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the store as its first argument."""

    @click.pass_obj
    @functools.wraps(command)
    def wrapper(app: App, *args: Any, **kwargs: Any) -> Any:
        return command(app.store, *args, **kwargs)

    return wrapper


@click.group(cls=_Group)
@click.option(
    "--db",
    envvar="PAIRWISE_DB",
    default="pairwise.db",
    help="The store: a SQLite file, sqlite:///PATH or a postgresql://USER:PASSWORD@HOST:PORT/DB"
    " URL (default: $PAIRWISE_DB, else pairwise.db).",
)
@click.version_option(package_name="pairwise")
@click.pass_context
def main(ctx: click.Context, db: str) -> None:
    """Human preference annotation of LLM responses, and win-rate reporting."""
    app = App(db)
    ctx.obj = app
    ctx.call_on_close(app.close)


@main.command()
@click.option("--demo", is_flag=True, help="Seed the demo study into a database without data.")
@click.pass_obj
def init(app: App, demo: bool) -> None:
    """Create the database schema (safe to run again)."""
    store = app.store
    click.echo(f"{app.db}: schema version {store.schema_version}")
    if demo:
        from .demo import ensure_demo

        study = ensure_demo(store)
        if study is None:
            click.echo("The database holds data already; the demo was not seeded.")
        else:
            click.echo(f"Seeded the demo study {study.name!r}: {_progress_line(store, study)}")


# -- import ----------------------------------------------------------------------------------------


@main.group("import")
def import_() -> None:
    """Import prompts, responses and judgments (JSONL, JSON or CSV; see docs/formats.md)."""


@import_.command("prompts")
@click.argument("file")
@pass_store
def import_prompts_command(store: Store, file: str) -> None:
    """Import prompts: id, category, prompt or messages, tags."""
    with progress_bar():
        imported = import_prompts(store, file)
    click.echo(imported)


@import_.command("responses")
@click.argument("file")
@pass_store
def import_responses_command(store: Store, file: str) -> None:
    """Import responses (prompt_id, model, response) or an AlpacaEval model_outputs.json."""
    with progress_bar():
        imported = import_responses(store, file)
    click.echo(imported)


@import_.command("judgments")
@click.argument("file")
@click.option("--study", help="Put every judgment in this study (default: from the records).")
@pass_store
def import_judgments_command(store: Store, file: str, study: str | None) -> None:
    """Import judgments: AlpacaEval annotations, Chatbot Arena / MT-Bench records, or our own
    judgments frame (docs/formats.md)."""
    with progress_bar():
        imported = import_judgments(store, file, study=study)
    click.echo(imported)


@import_.command("scores")
@click.argument("file")
@pass_store
def import_scores_command(store: Store, file: str) -> None:
    """Import scores of responses (prompt_id, model, scorer, score), e.g. a reward model's."""
    click.echo(import_scores(store, file))


# -- study -----------------------------------------------------------------------------------------


@main.group()
def study() -> None:
    """Set up studies and follow their progress."""


@study.command("create")
@click.argument("name")
@click.option("--models", required=True, help="Models to compare, comma separated.")
@click.option(
    "--pairs",
    default="all",
    show_default=True,
    help="all | baseline:MODEL | a:b,c:d (model A first).",
)
@click.option(
    "--overlap",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Judgments wanted per comparison.",
)
@click.option(
    "--scale",
    type=click.Choice(["7", "5", "3", "2"]),
    default="7",
    show_default=True,
    help="Points on the rating scale.",
)
@click.option(
    "--question", default=StudySpec.question, show_default=True, help="Shown above each pair."
)
@click.option("--guidelines", "guidelines_file", help="Markdown file with the guidelines.")
@click.option(
    "--gold-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of items drawn from gold checks.",
)
@click.option("--prompts", help="Prompt ids (comma separated) or a file of them.")
@click.option("--seed", type=int, help="Seed of the order comparisons are handed out in.")
@click.option(
    "--adaptive",
    is_flag=True,
    help="Hand out the least settled pair's comparisons first (see docs/study-design.md).",
)
@pass_store
def study_create(
    store: Store,
    name: str,
    models: str,
    pairs: str,
    overlap: int,
    scale: str,
    question: str,
    guidelines_file: str | None,
    gold_rate: float,
    prompts: str | None,
    seed: int | None,
    adaptive: bool,
) -> None:
    """Create study NAME: one comparison per prompt and model pair that both models answered."""
    spec = StudySpec(
        name=name,
        models=[m.strip() for m in models.split(",") if m.strip()],
        pairs=pairs,
        overlap=overlap,
        scale=int(scale),
        question=question,
        guidelines=Path(guidelines_file).read_text(encoding="utf-8-sig") if guidelines_file else "",
        gold_rate=gold_rate,
        prompt_ids=read_prompt_ids(prompts) if prompts else None,
        seed=seed,
        adaptive=adaptive,
    )
    created = create_study(store, spec)
    click.echo(f"Created study {created.name!r}: {_progress_line(store, created)}")


@study.command("list")
@pass_store
def study_list(store: Store) -> None:
    """List the studies with their progress."""
    studies = store.studies()
    if not studies:
        click.echo("No studies yet: pairwise study create NAME --models A,B")
    for s in studies:
        apart = "  [set apart]" if s.set_apart else ""
        kind = ", imported, read-only" if s.read_only else ""
        click.echo(
            f"{s.name}  ({s.scale.points}-point, overlap {s.overlap}{kind}):"
            f" {_progress_line(store, s)}{apart}"
        )


@study.command("show")
@click.argument("name")
@click.option(
    "--target",
    type=click.FloatRange(0, 0.5, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="Half-width of the win-rate interval that settles a pair.",
)
@pass_store
def study_show(store: Store, name: str, target: float) -> None:
    """Show a study's settings, progress and where each pair stands."""
    s = store.get_study(name)
    progress = store.study_progress(s)
    plan = s.pair_plan
    rows = [
        ("study", s.name),
        ("question", s.question),
        ("scale", f"{s.scale.points}-point"),
        ("overlap", f"{s.overlap} judgments per comparison"),
        ("models", ", ".join(s.models)),
        (
            "pairs",
            plan.get("kind", "list") + (f" ({plan['baseline']})" if "baseline" in plan else ""),
        ),
        ("gold rate", f"{s.gold_rate:g}"),
        ("assignment", "adaptive (least settled pair first)" if s.adaptive else "random order"),
        ("annotation", "read-only (imported without texts)" if s.read_only else "open"),
        ("guidelines", f"{len(s.guidelines)} characters" if s.guidelines else "none"),
        ("created", s.created_at),
        ("progress", _progress_line(store, s)),
        ("complete", f"{progress['complete']} of {progress['comparisons']} comparisons"),
        ("judgments", str(progress["judgments"])),
    ]
    if s.set_apart:
        rows.append(("set apart", f"since {s.set_apart_at} (pairwise study remove {s.name})"))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        click.echo(f"{label:<{width}}  {value}")
    _pair_lines(store, s, target)


def _pair_lines(store: Store, s: Study, target: float) -> None:
    """Per pair: win rate, both intervals, judgments still needed and the settled mark."""
    import analysis

    from .quality import people_only

    frame = people_only(store.judgments_frame(s.id, include_gold=False))
    pairs = analysis.pair_progress(frame, target=target)
    if pairs.empty:
        click.echo("\nNo judgments yet: no pair to show.")
        return
    click.echo(
        f"\nPairs: win rate of model A, its 95% interval, the anytime-valid interval (may be"
        f" watched after every judgment), judgments still needed for a half-width of {target:g}:"
    )
    header = ["model A", "model B", "judgments", "win rate", "interval", "anytime", "needed", ""]
    table = [
        [
            row.model_a,
            row.model_b,
            f"{row.n:,}",
            f"{row.win_rate:.1%}",
            f"[{row.win_rate_ci_low:.1%}, {row.win_rate_ci_high:.1%}]",
            f"[{row.anytime_ci_low:.1%}, {row.anytime_ci_high:.1%}]",
            f"{row.still_needed:,}",
            f"settled ({row.settled_by})" if row.settled else "",
        ]
        for row in pairs.itertuples()
    ]
    widths = [max(len(line[i]) for line in [header, *table]) for i in range(len(header))]
    for line in [header, *table]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


@study.command("set-apart")
@click.argument("name")
@click.option("--undo", is_flag=True, help="Put the study back in use.")
@pass_store
def study_set_apart(store: Store, name: str, undo: bool) -> None:
    """Set study NAME apart: no longer handed out, left out of reports, Progress and exports over
    all studies (name it to see it). Nothing is deleted. The demo study is set apart when the
    first person is invited."""
    s = store.set_apart(name, apart=not undo)
    if s.set_apart:
        click.echo(f"Set {s.name!r} apart. pairwise study remove {s.name} deletes it.")
    else:
        click.echo(f"{s.name!r} is in use again.")


@study.command("remove")
@click.argument("name")
@pass_store
def study_remove(store: Store, name: str) -> None:
    """Delete set-apart study NAME with its comparisons and judgments (the demo's prompts and
    responses too). A study in use must be set apart first: this cannot be undone."""
    s = store.get_study(name)
    removed = store.remove_study(s.id, unused_texts=s.demo)
    tables = ("judgments", "passes", "comparisons", "prompts", "responses")
    listed = ", ".join(f"{removed[t]} {t}" for t in tables if removed.get(t))
    click.echo(f"Removed {s.name!r}: {listed or 'it had no comparisons'}.")


def _progress_line(store: Store, s: Study) -> str:
    p = store.study_progress(s)
    share = p["done"] / p["wanted"] if p["wanted"] else 0.0
    return (
        f"{p['comparisons']} comparisons, {p['done']} of {p['wanted']} judgments done ({share:.0%})"
    )


# -- more commands ---------------------------------------------------------------------------------
# Each feature adds its commands in its own section below: define them with ``@main.command()`` or
# a ``@main.group()``, take the store with ``@pass_store``, call the library and print with
# ``click.echo``. Let library errors propagate: ``main`` prints them as "Error: ...", exit 1.
# Import pandas-backed modules (report, export, analysis, quality...) inside the command function,
# never at the top of this module; choices shown in --help come from light modules (formats).
# After adding or changing a command, regenerate docs/cli.md: python -m pairwise.cli_docs

# -- plan ------------------------------------------------------------------------------------------


@main.command("plan")
@click.option("--half-width", type=float, help="Target half-width of the win-rate interval.")
@click.option("--detect", type=float, help="Smallest difference from 50% to detect (instead).")
@click.option("--power", default=0.8, show_default=True, help="Chance of detecting it.")
@click.option(
    "--win-rate",
    type=float,
    help="Expected share of wins of model A (default 0.5, the worst case).",
)
@click.option(
    "--overlap", type=int, help="Judgments per comparison (default: the pilot's, else 1)."
)
@click.option("--icc", type=float, help="How alike judgments of one comparison are (0 to 1).")
@click.option("--tie-rate", type=float, help="Share of ties (default: the pilot's, else 0).")
@click.option("--seconds", type=float, help="Seconds per judgment (default: the pilot's median).")
@click.option("--pairs", type=int, help="Model pairs (default: the pilot's, else 1).")
@click.option("--confidence", default=0.95, show_default=True, help="Interval coverage.")
@click.option("--study", help="A pilot study in the store: ICC, tie rate and seconds from it.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.pass_obj
def plan_command(
    app: App,
    half_width: float | None,
    detect: float | None,
    power: float,
    win_rate: float | None,
    overlap: int | None,
    icc: float | None,
    tie_rate: float | None,
    seconds: float | None,
    pairs: int | None,
    confidence: float,
    study: str | None,
    fmt: str,
) -> None:
    """Prompts and judgments a study needs for a target interval width or to detect a difference."""
    import json

    import analysis

    pilot, pilot_study = None, None
    if study is not None:
        pilot_study = app.store.get_study(study)
        pilot = analysis.pilot_estimates(app.store.judgments_frame(study, include_gold=False))

    def pilot_value(value: float | None, name: str) -> float | None:
        if value is not None or pilot is None:
            return value
        found = getattr(pilot, name)
        return None if found != found else found  # NaN: the pilot cannot say

    plan = analysis.plan_study(
        win_rate=0.5 if win_rate is None else win_rate,
        half_width=half_width,
        detect=detect,
        power=power,
        overlap=overlap or (pilot_study.overlap if pilot_study else 1),
        icc=pilot_value(icc, "icc") or 0.0,
        pairs=pairs or (pilot.pairs if pilot else 1),
        confidence=confidence,
        tie_rate=pilot_value(tie_rate, "tie_rate") or 0.0,
        seconds_per_judgment=pilot_value(seconds, "median_seconds"),
    )
    record = plan.as_dict()
    if pilot is not None:
        record["pilot"] = {
            "study": study,
            "judgments": pilot.judgments,
            "icc": _finite(pilot.icc),
            "tie_rate": _finite(pilot.tie_rate),
            "median_seconds": _finite(pilot.median_seconds),
        }
    if fmt == "json":
        click.echo(json.dumps(record, indent=2))
        return
    for label, value in _plan_rows(plan, record.get("pilot")):
        click.echo(f"{label:<16} {value}")


def _finite(value: float) -> float | None:
    return None if value != value else round(value, 6)


def _plan_rows(plan: Any, pilot: dict[str, Any] | None) -> list[tuple[str, str]]:
    inputs = plan.inputs
    confidence = f"{inputs['confidence']:.0%}"
    if plan.goal == "half_width":
        goal = (
            f"half-width {inputs['half_width']:g} of the {confidence} interval of the win rate"
            f" (expected win rate {inputs['win_rate']:g})"
        )
    else:
        goal = (
            f"detect {inputs['detect']:g} from 50% with power {inputs['power']:g}"
            f" (sign test at {1 - inputs['confidence']:.0%}, tie rate {inputs['tie_rate']:g})"
        )
    rows = [("goal", goal)]
    if pilot is not None:
        icc = "unknown" if pilot["icc"] is None else f"{pilot['icc']:.3f}"
        secs = "unknown" if pilot["median_seconds"] is None else f"{pilot['median_seconds']:.1f} s"
        rows.append(
            (
                "pilot",
                f"{pilot['study']}: {pilot['judgments']:,} judgments, ICC {icc},"
                f" tie rate {pilot['tie_rate']:.1%}, median {secs} per judgment",
            )
        )
    rows += [
        (
            "design effect",
            f"{plan.design_effect:.3f} = 1 + ({plan.overlap} - 1) x ICC {plan.icc:.3f}",
        ),
        ("prompts", f"{plan.prompts:,} per pair"),
        ("judgments", f"{plan.judgments:,} per pair ({plan.overlap} per comparison)"),
        ("pairs", f"{plan.pairs:,}"),
        ("total judgments", f"{plan.total_judgments:,}"),
    ]
    if plan.annotator_hours is not None:
        rows.append(("annotator hours", f"{plan.annotator_hours:,.1f}"))
    return rows


# -- invite / revoke (auth) ------------------------------------------------------------------------


@main.command()
@click.argument("name")
@click.option("--admin", is_flag=True, help="Invite an admin (sets up studies, reads reports).")
@click.option("--email", help="Their e-mail, for apps that use single sign-on (OIDC) login.")
@click.option(
    "--base-url",
    envvar="PAIRWISE_BASE_URL",
    default="http://localhost:8501",
    show_default=True,
    help="Where the app is served (default: $PAIRWISE_BASE_URL).",
)
@pass_store
def invite(store: Store, name: str, admin: bool, email: str | None, base_url: str) -> None:
    """Invite NAME and print their personal sign-in link (shown this once only).

    The first invitation turns sign-in on and ends local demo mode, so it must be an admin's:
    invite yourself first with --admin, then your annotators.
    """
    with store.transaction():  # the check and the invitation at once: one first invitation
        first = auth.first_invitation(store)
        demo = [s for s in store.studies(include_set_apart=False) if s.demo] if first else []
        if not admin and first:
            raise click.ClickException(
                "nobody has been invited yet: the first invitation turns sign-in on and ends"
                f" local demo mode, so inviting {name} as an annotator would leave nobody able"
                " to administer the app from a browser. Invite an admin first"
                " (pairwise invite YOUR-NAME --admin), then the annotators."
            )
        person, token = auth.invite(store, name, admin=admin, email=email)
    for s in demo:
        click.echo(
            f"Sign-in is on: the demo study {s.name!r} is set apart (out of annotation, reports and"
            f" Progress), as are judgments made as local-admin. pairwise study remove {s.name}"
            " deletes it."
        )
    click.echo(f"Invited {person.name} ({person.role}). Personal sign-in link, shown only once:")
    click.echo(auth.link(base_url, token))


@main.command()
@click.argument("name")
@pass_store
def revoke(store: Store, name: str) -> None:
    """Revoke every sign-in link of NAME; they are signed out at their next click."""
    count = auth.revoke(store, name)
    click.echo(f"Revoked {count} sign-in link(s) of {name}.")


# -- report ----------------------------------------------------------------------------------------


@main.command("report")
@click.option(
    "--study", help="The study to report on (default: every study in use, set-apart ones left out)."
)
@click.option(
    "--format", "fmt", type=click.Choice(REPORT_FORMATS), help="Default: from --out, else md."
)
@click.option("--out", type=click.Path(dir_okay=False), help="Write to FILE instead of printing.")
@click.option("--bootstrap", "rounds", default=1000, show_default=True, help="Bootstrap rounds.")
@click.option("--seed", default=0, show_default=True, help="Seed of every bootstrap.")
@click.option("--confidence", default=0.95, show_default=True, help="Interval coverage.")
@click.option(
    "--baseline",
    metavar="MODEL",
    help="Add a leaderboard of every model against MODEL, with length-controlled win rates.",
)
@click.option("--focus", metavar="MODEL", help="Turn every pair so that MODEL is model A.")
@click.option(
    "--style-control",
    is_flag=True,
    help="Add ratings with length and Markdown style as covariates (as Chatbot Arena).",
)
@click.option(
    "--scale",
    type=click.Choice(["7", "5", "3", "2"]),
    help="Only judgments on this scale. Default: every scale, graded sections per scale.",
)
@pass_store
def report_command(
    store: Store,
    study: str | None,
    fmt: str | None,
    out: str | None,
    rounds: int,
    seed: int,
    confidence: float,
    baseline: str | None,
    focus: str | None,
    style_control: bool,
    scale: str | None,
) -> None:
    """Win / tie / loss rates with intervals, ratings, agreement and bias checks."""
    from . import report

    if study is not None:
        store.get_study(study)  # an unknown study is an error, not an empty report
    with progress_bar():
        result = report.report_from_store(
            store,
            study,
            rounds=rounds,
            seed=seed,
            confidence=confidence,
            baseline=baseline,
            focus=focus,
            style_control=style_control,
            scale=None if scale is None else int(scale),
        )
    if out is None:
        click.echo(report.render(result, fmt or "md"))
        return
    for path in report.write_report(result, out, fmt):
        click.echo(f"wrote {path}")


# -- copy ------------------------------------------------------------------------------------------


@main.command("copy")
@click.argument("source")
@click.argument("dest")
@click.option(
    "--merge",
    is_flag=True,
    help="Add to a destination that holds data: rows it holds alike are skipped, a row it holds"
    " with other content stops the copy.",
)
def copy_command(source: str, dest: str, merge: bool) -> None:
    """Copy a whole store, SQLite or PostgreSQL.

    Copies SOURCE into DEST, each a path, sqlite:///PATH or a postgresql:// URL, either way or
    alike. Every row goes in
    one transaction on DEST, ids kept, and each table's rows are counted on both sides before
    the commit. DEST is created if need be and must hold no data, unless --merge."""
    from .store.copy import copy_store

    with progress_bar():
        result = copy_store(source, dest, merge=merge)
    width = max(len(t.table) for t in result.tables)
    for t in result.tables:
        skipped = f"  ({t.skipped:,} already there)" if t.skipped else ""
        click.echo(f"{t.table:<{width}}  {t.added:>10,}{skipped}")
    click.echo(str(result))


# -- export ----------------------------------------------------------------------------------------


@main.command("export")
@click.argument("output", type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(EXPORT_FORMATS)),
    default="trl-conversational",
    show_default=True,
)
@click.option(
    "--study", help="Export this study only (default: every study in use, set-apart ones left out)."
)
@click.option(
    "--aggregation",
    type=click.Choice(list(EXPORT_AGGREGATIONS)),
    default="majority",
    show_default=True,
    help="One record per judgment, or per comparison by majority vote or mean score.",
)
@click.option("--keep-ties", is_flag=True, help="Keep ties, flagged tie=true (default: drop).")
@click.option(
    "--min-agreement",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Drop comparisons whose share of judgments agreeing with the majority is lower.",
)
@click.option(
    "--margins", help="Margin per score level, e.g. 1=0.33,2=0.67,3=1 (default: |score|)."
)
@click.option(
    "--keep-flagged", is_flag=True, help="Keep comparisons flagged unsafe/broken/unanswerable."
)
@click.option("--include-excluded", is_flag=True, help="Include annotators marked excluded.")
@click.option("--no-gold", is_flag=True, help="Leave gold check items out.")
@click.option(
    "--test-fraction",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.0,
    show_default=True,
    help="Share of prompts in a test file (split by prompt).",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the train/test split.")
@click.option(
    "--judges",
    type=click.Choice(list(EXPORT_JUDGES)),
    default="human",
    show_default=True,
    help="Keep the judgments of people, of model judges, or of both.",
)
@pass_store
def export_command(
    store: Store,
    output: str,
    fmt: str,
    study: str | None,
    aggregation: str,
    keep_ties: bool,
    min_agreement: float,
    margins: str | None,
    keep_flagged: bool,
    include_excluded: bool,
    no_gold: bool,
    test_fraction: float,
    seed: int,
    judges: str,
) -> None:
    """Write a preference dataset (or the raw judgments) to OUTPUT, with a dataset card."""
    from . import export

    options = export.ExportOptions(
        format=fmt,
        aggregation=aggregation,
        keep_ties=keep_ties,
        min_agreement=min_agreement,
        margins=None if margins is None else export.parse_margins(margins),
        study=study,
        exclude_flagged=not keep_flagged,
        include_excluded=include_excluded,
        include_gold=not no_gold,
        test_fraction=test_fraction,
        seed=seed,
        judges=judges,
    )
    with progress_bar():
        written = export.export_dataset(store, output, options)
    counts = written.export.counts
    for split, path in written.files.items():
        rows = counts["records"] if split == "all" else counts[f"{split}_records"]
        click.echo(f"wrote {path} ({rows} records)")
    click.echo(f"wrote {written.card}")


if __name__ == "__main__":
    main(prog_name="pairwise")
