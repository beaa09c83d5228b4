"""The annotate page: one blinded comparison at a time.

The responses are shown as "Response 1" and "Response 2" in the side order of the annotator's
lease; model names and the side order never reach the browser. Widgets of an item are keyed by
a random nonce rather than the comparison id (ids run in blocks per model pair, so they could
hint at the pair). Buttons act through callbacks, which run before the page is drawn: a press
stores the judgment and the same run already shows the next item. A press that names another
nonce than the item held (a double click, a stale tab) is ignored, and the store keeps one
judgment per annotator and comparison in any case.
"""

from __future__ import annotations

import functools
import secrets
import time
from dataclasses import dataclass

import streamlit as st

from pairwise.pages.common import Context, current_user, friendly_errors, get_store, require_user
from pairwise.pages.layout import ACTIONS_KEY, SCALE_KEY, annotate_style
from pairwise.render import literal_markdown, safe_markdown, show_conversation, show_responses
from pairwise.scales import orient
from pairwise.store import MAX_NOTE_CHARS, Assignment, StoreError, Study

#: Flag reasons, their labels and keys (the keys only act while the flag choice is open).
FLAG_REASONS = {
    "unsafe": ("Unsafe", "u"),
    "broken": ("Broken", "b"),
    "unanswerable": ("Unanswerable", "n"),
}

#: Each shortcut key and the widget key of the button it presses (``*``: the item's nonce).
SHORTCUTS = {
    **{str(n): f"rate-*-{n}" for n in range(1, 10)},  # the scale's buttons, 1..points
    "s": "skip-*",
    "f": "flag-*",
    **{key: f"flag-*-{reason}" for reason, (_, key) in FLAG_REASONS.items()},
}

#: What to tell the annotator when a rating was not stored (see ``Store.record_judgment``).
_NOT_STORED = {
    "full": "That comparison was completed by others while it was open, so your rating was not"
    " needed. Here is the next one.",
    "duplicate": "You had already rated, skipped or flagged that comparison (in another tab?),"
    " so your earlier answer stands. Here is the next one.",
}

_ITEM = "annotate.item"
_FLAGGING = "annotate.flagging"
_NOTICE = "annotate.notice"
_STUDY = "annotate.study"


@dataclass(frozen=True)
class Held:
    """The comparison on screen: its lease, the nonce naming its widgets, when it was shown."""

    assignment: Assignment
    annotator_id: int
    nonce: str
    shown_at: float


def page() -> None:
    ctx = require_user()
    annotate_style(SHORTCUTS)
    study = _pick_study(ctx)
    if study is None:
        return
    # names and questions are shown as plain text: one imported from a file cannot format the
    # page (a fake "sign in again" link); guidelines keep their Markdown, made safe
    st.markdown(f"### {literal_markdown(study.question)}")
    st.caption(literal_markdown(study.name))
    if study.guidelines.strip():
        with st.expander("Guidelines", icon=":material/menu_book:"):
            st.markdown(_guidelines(study.guidelines))
    _annotate(study.id)


@st.fragment
def _annotate(study_id: int) -> None:
    """The item, its buttons and the progress bars: a press reruns only this part of the page
    (the header, guidelines and sidebar stay as they are), which halves the server's work per
    judgment. The person is checked again on every run, and the study read again."""
    with friendly_errors():  # a run of this part alone is not inside the page's own guard
        _annotate_item(study_id)


def _annotate_item(study_id: int) -> None:
    ctx = _signed_in_again()
    try:
        study = ctx.store.get_study(study_id)
    except StoreError:  # removed meanwhile: the whole page picks again
        st.rerun(scope="app")
    held = _held_item(ctx, study)
    finished = _progress(ctx, study)
    notice = st.session_state.pop(_NOTICE, None)
    if notice:
        st.warning(notice)
    if held is None:
        if not finished:
            st.success(
                "All done, thank you! Nothing is left for you to rate in this study right now.",
                icon=":material/celebration:",
            )
        return
    show_conversation(held.assignment.prompt.messages)
    show_responses(held.assignment.left, held.assignment.right)
    _controls(study, held)


def _signed_in_again() -> Context:
    """The person signed in right now; a revoked link or a signed-out session reruns the whole
    page, which then shows the sign-in message."""
    user = current_user()
    if user is None:
        st.rerun(scope="app")
    return Context(get_store(), user)


@functools.lru_cache(maxsize=64)
def _guidelines(text: str) -> str:
    """A study's guidelines made safe, once per text (they are long, and the same each run)."""
    return safe_markdown(text)


def _pick_study(ctx: Context) -> Study | None:
    """The study to work on: the only one, or the sidebar's choice (by default the oldest with
    something left for this person, see ``Store.study_to_annotate``).

    Read-only studies (imported without texts) are never offered."""
    studies = {s.id: s for s in ctx.store.studies(include_set_apart=False) if not s.read_only}
    if not studies:
        st.info("There is no study to annotate yet.")
        return None
    if len(studies) == 1:
        return next(iter(studies.values()))
    ids = list(studies)
    index = 0
    if _STUDY not in st.session_state:  # the default matters only when the box is first drawn
        first = ctx.store.study_to_annotate(ctx.user.id)
        index = ids.index(first.id) if first is not None else 0
    with st.sidebar:
        chosen = st.selectbox(
            "Study", ids, index=index, format_func=lambda i: studies[i].name, key=_STUDY
        )
    return studies[chosen]


def _held_item(ctx: Context, study: Study) -> Held | None:
    """The item on screen, or the next one leased now; ``None`` when nothing is left."""
    held: Held | None = st.session_state.get(_ITEM)
    if held is not None:
        if held.assignment.study_id == study.id and held.annotator_id == ctx.user.id:
            return held
        ctx.store.release(held.assignment.comparison_id, held.annotator_id)
    assignment = ctx.store.next_comparison(study, ctx.user.id)
    if assignment is None:
        st.session_state.pop(_ITEM, None)
        return None
    held = Held(assignment, ctx.user.id, secrets.token_hex(8), time.monotonic())
    st.session_state[_ITEM] = held
    return held


def _progress(ctx: Context, study: Study) -> bool:
    """The person's and the study's progress bars; ``True`` when the study is finished, which
    is said in words instead of with bars (a finished study leaves nothing to count)."""
    mine = ctx.store.annotator_progress(study, ctx.user.id)
    overall = ctx.store.study_progress(study)
    if overall["wanted"] and overall["done"] >= overall["wanted"]:
        yours = f" You made {mine['done']:,} of them." if mine["done"] else ""
        st.success(
            f"This study is finished: all {overall['wanted']:,} judgments it needs are in."
            f"{yours} Thank you!",
            icon=":material/task_alt:",
        )
        return True
    left, right = st.columns(2)
    if mine["total"]:
        left.progress(
            _fraction(mine["done"], mine["total"]),
            text=f"You: {mine['done']:,} of {mine['total']:,} rated",
        )
    else:
        left.caption("You: nothing in this study is open to you right now.")
    right.progress(
        _fraction(overall["done"], overall["wanted"]),
        text=f"Study: {overall['done']:,} of {overall['wanted']:,} judgments",
    )
    return False


def _fraction(done: int, total: int) -> float:
    return min(1.0, done / total) if total else 1.0


def _controls(study: Study, held: Held) -> None:
    """A note, the scale's buttons (keys 1..n), Skip (s) and Flag (f)."""
    nonce = held.nonce
    st.text_area(
        "Rationale or note (optional)",
        key=f"note-{nonce}",
        placeholder="Why you chose, or what is wrong with this item",
        height=68,
        max_chars=MAX_NOTE_CHARS,
    )
    choices = study.scale.choices()
    scale = st.container(key=SCALE_KEY)
    for column, choice in zip(scale.columns(len(choices)), choices, strict=True):
        column.button(
            choice.label,
            key=f"rate-{nonce}-{choice.shortcut}",
            shortcut=choice.shortcut,
            on_click=_rate,
            args=(nonce, choice.value),
            width="stretch",
            wrap=True,
        )
    with st.container(horizontal=True, key=ACTIONS_KEY):
        st.button("Skip", key=f"skip-{nonce}", shortcut="s", on_click=_pass, args=(nonce, "skip"))
        st.button("Flag", key=f"flag-{nonce}", shortcut="f", on_click=_toggle_flag, args=(nonce,))
    if st.session_state.get(_FLAGGING) == nonce:
        st.caption("What is wrong with this item?")
        with st.container(horizontal=True):
            for reason, (label, key) in FLAG_REASONS.items():
                st.button(
                    label,
                    key=f"flag-{nonce}-{reason}",
                    shortcut=key,
                    on_click=_pass,
                    args=(nonce, reason),
                )
            st.button("Cancel", key=f"flag-{nonce}-cancel", on_click=_toggle_flag, args=(nonce,))


def _current(nonce: str) -> Held | None:
    """The held item if a press was meant for it by the person still signed in, else ``None``
    (a press on an earlier item, or after the link was revoked)."""
    held: Held | None = st.session_state.get(_ITEM)
    if held is None or held.nonce != nonce:
        return None
    user = current_user()
    return held if user is not None and user.id == held.annotator_id else None


def _note(held: Held) -> str:
    return (st.session_state.get(f"note-{held.nonce}") or "").strip()


def _next_item() -> None:
    """Let go of the item on screen; the page leases the next one in the same run."""
    st.session_state.pop(_ITEM, None)
    st.session_state.pop(_FLAGGING, None)


def _rate(nonce: str, shown_value: int) -> None:
    held = _current(nonce)
    if held is None:
        return
    a = held.assignment
    try:
        result = get_store().record_judgment(
            a.comparison_id,
            held.annotator_id,
            score=orient(shown_value, a.shown_order),
            shown_order=a.shown_order,
            rationale=_note(held),
            seconds=round(time.monotonic() - held.shown_at, 3),
        )
    except StoreError as error:
        _refused(error)
        return
    _answered(result.status)


def _pass(nonce: str, reason: str) -> None:
    held = _current(nonce)
    if held is None:
        return
    try:
        result = get_store().record_pass(
            held.assignment.comparison_id, held.annotator_id, reason=reason, note=_note(held)
        )
    except StoreError as error:
        _refused(error)
        return
    _answered(result.status)


def _answered(status: str) -> None:
    """Move on to the next item, saying why the answer was not stored if it was not."""
    if status in _NOT_STORED:
        st.session_state[_NOTICE] = _NOT_STORED[status]
    _next_item()


def _refused(error: StoreError) -> None:
    """Keep the item on screen with the store's reason (such as a note that is too long)."""
    st.session_state[_NOTICE] = f"Not saved: {error}. Shorten it and press again."


def _toggle_flag(nonce: str) -> None:
    if _current(nonce) is None:
        return
    open_now = st.session_state.get(_FLAGGING) == nonce
    st.session_state[_FLAGGING] = None if open_now else nonce
