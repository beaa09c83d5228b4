"""The studies page: set up a study from the stored prompts and responses, change its settings,
and choose its gold items.

Admins see model names here (they choose the pairs); annotators never reach this page.
"""

from __future__ import annotations

from itertools import combinations

import pandas as pd
import streamlit as st

import analysis
from pairwise.pages.common import Context, require_admin
from pairwise.plans import PLAN_KINDS, describe_plan, plan_pairs
from pairwise.render import literal_markdown, safe_markdown, show_conversation, show_text
from pairwise.scales import SCALE_POINTS, Scale
from pairwise.store import Store, StoreError, Study

QUESTION_PRESETS = ("Which response is more helpful?", "Which response is safer?")
CUSTOM_QUESTION = "Custom question…"
PLAN_LABELS = {
    "all": "All pairs of the chosen models",
    "baseline": "One baseline against each other model",
    "list": "An explicit list of pairs",
}
_NOTICE = "studies.notice"


def page() -> None:
    ctx = require_admin()
    st.title("Studies")
    notice = st.session_state.pop(_NOTICE, None)
    if notice:
        st.success(notice)
    _set_apart(ctx.store)
    new, existing, gold = st.tabs(["New study", "Settings", "Gold items"])
    with new:
        _new_study(ctx)
    with existing:
        _settings(ctx)
    with gold:
        _gold_items(ctx)


READ_ONLY = "imported, read-only"


def select_study(store: Store, *, key: str, label: str = "Study") -> Study | None:
    """A study picker over the studies in use, the newest first; ``None`` (with a note) when
    there is none. Set-apart studies are listed at the top of the Studies page instead."""
    studies = store.studies(include_set_apart=False)[::-1]
    if not studies:
        st.info("No study yet: create one on the Studies page.")
        return None
    by_id = {s.id: s for s in studies}
    chosen = st.selectbox(label, list(by_id), format_func=lambda i: by_id[i].name, key=key)
    return by_id[chosen]


def plan_text(plan: dict) -> str:
    """A stored pair plan in words."""
    if plan.get("kind") == "all":
        return "all pairs"
    if plan.get("kind") == "baseline":
        return f"baseline {plan.get('baseline')} against each other model"
    return "pairs " + ", ".join(f"{a} vs {b}" for a, b in plan.get("pairs", []))


# -- set apart ----------------------------------------------------------------------------------


def _set_apart(store: Store) -> None:
    """Set-apart studies (the demo, once sign-in is on), each with its two ways out."""
    for study in store.studies():
        if not study.set_apart:
            continue
        judgments = store.study_progress(study)["judgments"]
        what = "The demo study" if study.demo else "The study"
        with st.container(border=True):
            st.markdown(
                f"**{what} {literal_markdown(study.name)} is set apart** (since"
                f" {study.set_apart_at[:16].replace('T', ' ')} UTC): annotators no longer get it,"
                f" and reports and Progress leave out its {judgments:,} judgment(s)."
            )
            remove, restore, _ = st.columns([1, 1, 3])
            remove.button(
                f"Remove {study.name}",
                key=f"studies.remove.{study.id}",
                type="primary",
                on_click=_remove,
                args=(store, study),
                help="Deletes the study with its comparisons and judgments; cannot be undone.",
            )
            restore.button(
                "Put it back",
                key=f"studies.restore.{study.id}",
                on_click=_restore,
                args=(store, study),
            )


def _remove(store: Store, study: Study) -> None:
    removed = store.remove_study(study.id, unused_texts=study.demo)
    st.session_state[_NOTICE] = (
        f"Removed the study {literal_markdown(study.name)} with"
        f" {removed.get('judgments', 0):,} judgment(s)."
    )


def _restore(store: Store, study: Study) -> None:
    store.set_apart(study.id, apart=False)
    st.session_state[_NOTICE] = f"The study {literal_markdown(study.name)} is in use again."


# -- new study ----------------------------------------------------------------------------------


def _new_study(ctx: Context) -> None:
    store = ctx.store
    models = store.models()
    if len(models) < 2:
        st.info("Import responses from at least two models first (`pairwise import responses`).")
        return
    name = st.text_input("Name", key="new.name", placeholder="helpfulness-2024-05")
    preset = st.selectbox("Question", [*QUESTION_PRESETS, CUSTOM_QUESTION], key="new.preset")
    question = (
        st.text_input("Custom question", key="new.question")
        if preset == CUSTOM_QUESTION
        else preset
    )
    write, preview = st.tabs(["Guidelines", "Preview"])
    guidelines = write.text_area(
        "Guidelines (Markdown), shown to annotators above every item",
        key="new.guidelines",
        height=160,
    )
    with preview:
        st.markdown(safe_markdown(guidelines) if guidelines.strip() else "*No guidelines.*")
    chosen = st.multiselect("Models", models, default=models, key="new.models")
    kind = st.radio(
        "Pair plan",
        PLAN_KINDS,
        format_func=PLAN_LABELS.__getitem__,
        key="new.plan",
        horizontal=True,
    )
    baseline, listed = None, None
    if kind == "baseline":
        baseline = st.selectbox("Baseline model", chosen or [None], key="new.baseline")
    if kind == "list":
        options = list(combinations(chosen, 2))
        listed = st.multiselect(
            "Pairs (the first model of a pair is model A)",
            options,
            format_func=lambda p: f"{p[0]} vs {p[1]}",
            key="new.pairs",
        )
    left, middle, right = st.columns(3)
    overlap = left.number_input(
        "Judgments per comparison", min_value=1, max_value=50, value=3, key="new.overlap"
    )
    points = middle.selectbox(
        "Scale", SCALE_POINTS, format_func=lambda p: f"{p}-point", key="new.scale"
    )
    gold_rate = right.number_input(
        "Gold rate",
        min_value=0.0,
        max_value=1.0,
        value=0.0,
        step=0.05,
        key="new.gold_rate",
        help="The share of items that are gold checks, for annotators while gold items are left.",
    )
    categories = st.multiselect(
        "Only these prompt categories (none chosen: all)", store.categories(), key="new.categories"
    )
    try:
        pairs = plan_pairs(chosen, kind, baseline=baseline, pairs=listed)
    except ValueError as error:
        st.warning(str(error).capitalize())
        return
    prompt_ids = store.prompt_ids(categories) if categories else None
    count = store.count_comparisons(pairs, prompt_ids)
    st.markdown(
        f"This study will create **{count:,} comparisons** ({len(pairs)} model"
        f" pair{'s' if len(pairs) != 1 else ''}), and wants **{count * overlap:,} judgments**."
    )
    adaptive = st.checkbox(
        "Adaptive assignment",
        key="new.adaptive",
        help="Hand out the comparisons of the pair whose win-rate interval is widest first, so"
        " that judgments go where the result is least settled. Within a pair, prompts stay a"
        " random sample.",
    )
    with st.expander("Plan the study size"):
        _planner(store, int(overlap), len(pairs), count)
    problem = _new_study_problem(store, name, question, count)
    if problem:
        st.caption(problem)
    if st.button("Create study", key="new.create", type="primary", disabled=bool(problem)):
        try:
            study = store.create_study(
                name.strip(),
                pairs=pairs,
                overlap=int(overlap),
                scale=int(points),
                question=question.strip(),
                guidelines=guidelines,
                gold_rate=float(gold_rate),
                pair_plan=describe_plan(kind, baseline=baseline, pairs=listed),
                prompt_ids=prompt_ids,
                adaptive=adaptive,
            )
        except (StoreError, ValueError) as error:
            st.error(str(error))
            return
        st.session_state[_NOTICE] = f"Created study {study.name!r} with {count:,} comparisons."
        st.rerun()


NO_PILOT = "no pilot"


def _planner(store: Store, overlap: int, pairs: int, count: int) -> None:
    """The planner of ``pairwise plan``: prompts and judgments for a target width, or to detect
    a difference, with a pilot study's ICC, tie rate and seconds per judgment when chosen."""
    pilots = [NO_PILOT, *(s.name for s in store.studies()[::-1])]
    pilot_name = st.selectbox("Pilot study", pilots, key="plan.pilot")
    pilot = None
    if pilot_name != NO_PILOT:
        frame = store.judgments_frame(pilot_name, include_gold=False)
        if len(frame):
            pilot = analysis.pilot_estimates(frame)
        else:
            st.caption(f"{pilot_name} has no judgments yet.")
    known_icc = pilot is not None and pilot.icc == pilot.icc
    left, middle, right = st.columns(3)
    goal = left.radio("Goal", ["interval width", "detect a difference"], key="plan.goal")
    if goal == "interval width":
        target = middle.number_input(
            "Half-width", 0.005, 0.45, 0.05, step=0.01, format="%.3f", key="plan.width"
        )
        win_rate = right.number_input(
            "Expected win rate", 0.0, 1.0, 0.5, step=0.05, key="plan.rate",
            help="0.5 is the worst case: no win rate needs more judgments.",
        )  # fmt: skip
        goals = {"half_width": float(target), "win_rate": float(win_rate)}
    else:
        detect = middle.number_input("Difference from 50%", 0.01, 0.45, 0.1, key="plan.detect")
        power = right.number_input("Power", 0.5, 0.99, 0.8, key="plan.power")
        goals = {"detect": float(detect), "power": float(power)}
    icc = st.number_input(
        "ICC (how alike judgments of one comparison are)",
        0.0,
        1.0,
        float(pilot.icc) if known_icc else 0.0,
        step=0.05,
        key=f"plan.icc.{pilot_name}",
    )
    plan = analysis.plan_study(
        **goals,
        overlap=overlap,
        icc=float(icc),
        pairs=max(pairs, 1),
        tie_rate=pilot.tie_rate if pilot is not None else 0.0,
        seconds_per_judgment=(
            pilot.median_seconds
            if pilot is not None and pilot.median_seconds == pilot.median_seconds
            else None
        ),
    )
    hours = (
        f", about **{plan.annotator_hours:,.1f} annotator hours**"
        if plan.annotator_hours is not None
        else ""
    )
    st.markdown(
        f"Needs **{plan.prompts:,} prompts per pair** ({plan.judgments:,} judgments at"
        f" {overlap} per comparison; design effect {plan.design_effect:.2f}),"
        f" **{plan.total_judgments:,} judgments** in all{hours}."
    )
    if pilot is not None:
        st.caption(
            f"From {pilot_name}: ICC {pilot.icc:.3f}, tie rate {pilot.tie_rate:.1%},"
            f" {pilot.judgments:,} judgments. Methods: docs/study-design.md."
        )
    per_pair = count / max(pairs, 1)
    if per_pair < plan.prompts:
        st.warning(
            f"The chosen prompts give about {per_pair:,.0f} per pair: fewer than the plan needs."
        )


def _new_study_problem(store: Store, name: str, question: str, count: int) -> str | None:
    """Why the study cannot be created yet, or ``None``."""
    if not name.strip():
        return "Give the study a name."
    if name.strip() in {s.name for s in store.studies()}:
        return f"A study named {name.strip()!r} exists already."
    if not question.strip():
        return "Write the question annotators answer."
    if count == 0:
        return "No prompt has responses from both models of any pair."
    return None


# -- settings -----------------------------------------------------------------------------------


def _settings(ctx: Context) -> None:
    studies = ctx.store.studies()
    if not studies:
        st.info("No study yet.")
        return
    rows = []
    for s in studies:
        progress = ctx.store.study_progress(s)
        rows.append(
            {
                "study": s.name,
                "question": s.question,
                "scale": f"{s.scale.points}-point",
                "overlap": s.overlap,
                "models": ", ".join(s.models),
                "pair plan": plan_text(s.pair_plan),
                "gold rate": s.gold_rate,
                "assignment": "adaptive" if s.adaptive else "random order",
                "comparisons": progress["comparisons"],
                "judgments": f"{progress['done']:,} / {progress['wanted']:,}",
                "created": s.created_at[:16].replace("T", " "),
                "annotation": READ_ONLY if s.read_only else "open",
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    if any(s.read_only for s in studies):
        st.caption(
            f"{READ_ONLY}: judgments imported without the texts of their prompts or responses. "
            "Such a study is reported on and exported, but not offered for annotation until"
            " its texts are imported (`pairwise import prompts` / `responses`, or judgments with"
            " their conversations)."
        )
    study = select_study(ctx.store, key="settings.study", label="Edit study")
    if study is None:
        return
    with st.form(f"settings.form.{study.id}"):
        question = st.text_input("Question", value=study.question)
        guidelines = st.text_area("Guidelines (Markdown)", value=study.guidelines, height=160)
        left, right = st.columns(2)
        overlap = left.number_input(
            "Judgments per comparison", min_value=1, max_value=50, value=study.overlap
        )
        gold_rate = right.number_input(
            "Gold rate", min_value=0.0, max_value=1.0, value=float(study.gold_rate), step=0.05
        )
        adaptive = st.checkbox(
            "Adaptive assignment (the least settled pair first)", value=study.adaptive
        )
        st.caption(
            "A lower overlap closes comparisons that already have enough judgments; a higher one"
            " reopens them. Judgments already made are kept."
        )
        saved = st.form_submit_button("Save settings")
    if saved:
        if not question.strip():
            st.error("The question cannot be empty.")
            return
        ctx.store.update_study(
            study.id,
            question=question.strip(),
            guidelines=guidelines,
            overlap=int(overlap),
            gold_rate=float(gold_rate),
            adaptive=adaptive,
        )
        st.session_state[_NOTICE] = f"Saved the settings of {study.name!r}."
        st.rerun()


# -- gold items ---------------------------------------------------------------------------------


def _gold_items(ctx: Context) -> None:
    store = ctx.store
    study = select_study(store, key="gold.study")
    if study is None:
        return
    frame = store.comparisons_frame(study.id)
    gold = frame[frame["is_gold"].astype(bool)]
    st.caption(
        f"{len(gold)} gold item(s). A gold item is handed out at the study's gold rate"
        f" ({study.gold_rate:.0%}), to each annotator once, whatever the overlap; it does not"
        " count towards progress."
    )
    if not gold.empty and study.gold_rate == 0:
        st.warning("The gold rate is 0: set one under Settings, or no gold item is handed out.")
    if not gold.empty:
        st.dataframe(
            gold[["comparison_id", "prompt_id", "model_a", "model_b", "gold_score", "n_judgments"]],
            hide_index=True,
        )
    search = st.text_input("Find comparisons by prompt id", key="gold.search")
    found = frame[frame["prompt_id"].str.contains(search.strip(), regex=False)] if search else frame
    if found.empty:
        st.info("No comparison of this study has a matching prompt id.")
        return
    labels = {
        int(r.comparison_id): f"{r.prompt_id} · {r.model_a} vs {r.model_b}"
        + (f" · gold {int(r.gold_score):+d}" if r.is_gold else "")
        for r in found.itertuples()
    }
    cid = st.selectbox(
        "Comparison", list(labels), format_func=labels.__getitem__, key=f"gold.pick.{study.id}"
    )
    item = store.get_comparison(cid)
    with st.expander(f"Prompt {item.prompt.id} and the two responses", expanded=True):
        show_conversation(item.prompt.messages)
        for column, label, text in zip(
            st.columns(2),
            (f"A: {item.model_a}", f"B: {item.model_b}"),
            (item.left, item.right),
            strict=True,
        ):
            column.markdown(f"**{label}**")
            with column.container(border=True, height=480):
                show_text(text)
    labels_for_a = gold_labels(study.scale, item.model_a, item.model_b)
    current = frame.loc[frame["comparison_id"] == cid, "gold_score"].iloc[0]
    values = list(labels_for_a)
    score = st.radio(
        "Known answer",
        values,
        index=values.index(int(current)) if pd.notna(current) else None,
        format_func=labels_for_a.__getitem__,
        key=f"gold.score.{cid}",
    )
    left, right = st.columns(2)
    if left.button("Set as gold", key="gold.set", disabled=score is None, type="primary"):
        store.set_gold(cid, int(score))
        st.session_state[_NOTICE] = f"Comparison {cid} is a gold item with answer {score:+d}."
        st.rerun()
    if right.button("Clear gold", key="gold.clear", disabled=pd.isna(current)):
        store.set_gold(cid, None)
        st.session_state[_NOTICE] = f"Comparison {cid} is a regular item again."
        st.rerun()


def gold_labels(scale: Scale, model_a: str, model_b: str) -> dict[int, str]:
    """The scale's choices as scores for model A, labelled with the model names."""
    return {
        c.value: (f"{c.value:+d}  " if c.value else "0  ")
        + c.label.replace("Response 1", f"A ({model_a})").replace("Response 2", f"B ({model_b})")
        for c in scale.choices()
    }
