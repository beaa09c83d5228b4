"""MT-Bench pair judgments as FastChat's ``gen_judgment.py`` writes them: a model judge shown both orders.

Records (``model_judgment/gpt-4_pair.jsonl``): ``question_id``, ``model_1``, ``model_2``,
``g1_winner``, ``g2_winner`` (``"model_1"``, ``"model_2"``, ``"tie"`` or ``"error"``), ``judge``
(``["gpt-4", "pair-v2"]``), ``turn``, ``tstamp``, and the judge's texts ``g1_judgment`` /
``g2_judgment``. Game 1 showed ``model_1`` as Assistant A (first), game 2 showed ``model_2``
first. ``model_1`` is model A; the two games are kept as ``score_ab`` and ``score_ba`` (needed to
measure the judge's position consistency), and the judgment's score is their consensus: the
verdict both games gave, else a tie, as FastChat counts it. A game that ended in ``"error"`` is
missing: the other game alone is the judgment; with both in error the record is left out and
counted. Prompt ids are those of the MT-Bench human judgments (:func:`question_prompt_id`).
"""

from __future__ import annotations

from .arena import YEAR_10000, judge_name, question_prompt_id, time_of
from .fields import Fields
from .judged import UNKNOWN_ORDER, Judged, JudgmentFormat, judged, prompt_or_placeholder
from .reader import Record
from .texts import DEFAULT_CATEGORY

GAME_WINNERS = {"model_1": 1, "model_2": -1, "tie": 0, "error": None}
_FIELDS = ("g1_winner", "question_id", "model_1", "model_2")


def pair_judgment_from(f: Fields) -> Judged | None:
    """One FastChat pair judgment: ``model_1`` is model A."""
    model_1, model_2 = f.name("model_1"), f.name("model_2")
    game_1 = f.choice("g1_winner", GAME_WINNERS)
    game_2 = f.choice("g2_winner", GAME_WINNERS, required=False)
    judge, judge_kind = judge_name(f)
    question = f.name("question_id", numbers=True)
    turn = f.integer("turn", required=False, low=1)
    category = f.name("category", required=False) or DEFAULT_CATEGORY
    tstamp = f.number("tstamp", high=YEAR_10000)
    texts = [f.text(n, required=False, blank_ok=True) for n in ("g1_judgment", "g2_judgment")]
    if f.failed:
        return None
    first, second = GAME_WINNERS[game_1], None if game_2 is None else GAME_WINNERS[game_2]
    if first is not None and second is not None:  # both orders: their consensus
        score, order, score_ab, score_ba = (
            first if first == second else 0,
            UNKNOWN_ORDER,
            first,
            second,
        )
    elif first is not None:
        score, order, score_ab, score_ba = first, "AB", None, None
    else:
        score, order, score_ab, score_ba = second, "BA", None, None
    games = [
        f"[{label}]\n{text}"
        for label, text in zip(("model A shown first", "model B shown first"), texts, strict=True)
        if text
    ]
    prompt_id = question_prompt_id(question, turn)
    return judged(
        f,
        prompt_or_placeholder(prompt_id, None, question, category, turn or 1),
        study=None,
        model_a=model_1,
        model_b=model_2,
        text_a=None,
        text_b=None,
        annotator=judge,
        score=score,
        scale=3,
        scale_declared=False,
        shown_order=order,
        fields=_FIELDS,
        rationale="\n\n".join(games),
        created_at=time_of(tstamp),
        judge_kind=judge_kind,
        score_ab=score_ab,
        score_ba=score_ba,
    )


def _both_games_failed(record: Record) -> str | None:
    data = record.data
    if data.get("g1_winner") == "error" and data.get("g2_winner", "error") == "error":
        return 'judged in no order (g1_winner and g2_winner "error")'
    return None


PAIR_JUDGMENTS = JudgmentFormat(
    "MT-Bench pair judgments (FastChat)",
    recognises=lambda data: "g1_winner" in data,
    read=pair_judgment_from,
    left_out=_both_games_failed,
)
