"""Chatbot Arena battles and MT-Bench human judgments: records with ``model_a``, ``model_b``, ``winner``.

They map to the 3-point scale (``model_a`` +1, ``model_b`` -1, either tie 0). The prompt id is
``question_id`` (with ``-turn<N>`` from turn 2 on), else a hash of the prompt messages; texts come
from ``conversation_a`` / ``conversation_b`` when given, else placeholders. A record does not
say which side each model was shown on (Chatbot Arena randomises it), so ``shown_order`` is
unknown (``None``) and the judgments stay out of position checks.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ..store import content_hash
from .fields import Fields
from .judged import UNKNOWN_ORDER, Judged, JudgmentFormat, judged, prompt_or_placeholder
from .texts import DEFAULT_CATEGORY

WINNER_SCORES = {"model_a": 1, "model_b": -1, "tie": 0, "tie (bothbad)": 0}
_ARENA_FIELDS = ("winner", "conversation_a", "conversation_a", "conversation_b")
YEAR_10000 = 253_402_300_800  # Unix time: the first instant Python's datetime cannot hold


def battle_from(f: Fields) -> Judged | None:
    """A Chatbot Arena battle or an MT-Bench human judgment."""
    model_a, model_b = f.name("model_a"), f.name("model_b")
    winner = f.choice("winner", WINNER_SCORES)
    judge, judge_kind = judge_name(f)
    turn = f.integer("turn", required=False, low=1)
    question = f.name("question_id", required=False, numbers=True)
    category = f.name("category", required=False) or DEFAULT_CATEGORY
    conversations = {n: f.conversation(n, required=False) for n in _ARENA_FIELDS[2:]}
    tstamp = f.number("tstamp", high=YEAR_10000)
    if f.failed:
        return None
    (messages_a, text_a), (messages_b, text_b) = (
        _up_to_turn(f, name, conversation, turn) for name, conversation in conversations.items()
    )
    messages = messages_a or messages_b
    if question is None and messages is None:
        f.problem("question_id", "is missing (needed when the record has no conversation)")
    if f.failed:
        return None
    if question is None:
        prompt_id = "q-" + content_hash(messages)[:12]
    else:
        prompt_id = question_prompt_id(question, turn)
    return judged(
        f,
        prompt_or_placeholder(prompt_id, messages, question, category, turn or 1),
        study=None,
        model_a=model_a,
        model_b=model_b,
        text_a=text_a,
        text_b=text_b,
        annotator=judge,
        score=WINNER_SCORES[winner],
        scale=3,
        scale_declared=False,
        shown_order=UNKNOWN_ORDER,
        fields=_ARENA_FIELDS,
        created_at=time_of(tstamp),
        judge_kind=judge_kind,
    )


def question_prompt_id(question: str, turn: int | None) -> str:
    """The prompt id of an MT-Bench question's turn: the question id, then ``-turn<N>`` from 2 on.

    MT-Bench judges each turn of a question separately; its files about the same question and
    turn (human judgments, GPT-4 judgments, answers) meet on this id.
    """
    return question + (f"-turn{turn}" if turn and turn > 1 else "")


def time_of(tstamp: float | None) -> str | None:
    """A Unix time as the ISO 8601 UTC text judgments store, or ``None``."""
    if tstamp is None:
        return None
    return datetime.fromtimestamp(tstamp, timezone.utc).isoformat(timespec="milliseconds")


def judge_name(f: Fields) -> tuple[str | None, str]:
    """The ``judge`` field and its kind.

    A name (``"expert_3"``, ``"author_1"``, an Arena user) is a person; a list (``["gpt-4",
    "pair-v2"]``: the model and its prompt template, as FastChat writes it) is a model judge,
    named by the list joined with ``/``.
    """
    value = f.record.data.get("judge")
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        joined = "/".join(v.strip() for v in value)
        return f.check_text("judge", joined), "model"
    return f.name("judge"), "human"


def _up_to_turn(
    f: Fields, name: str, conversation: list[dict[str, str]] | None, turn: int | None
) -> tuple[list[dict[str, str]] | None, str | None]:
    """The system and user turns up to user turn ``turn`` (default: the last), and the reply."""
    if conversation is None:
        return None, None
    users = [i for i, m in enumerate(conversation) if m["role"] == "user"]
    wanted = turn or len(users)
    if not users or wanted > len(users):
        f.problem(name, f"has {len(users)} user turn(s); the record judges turn {wanted}")
        return None, None
    cut = users[wanted - 1]
    following = users[wanted] if wanted < len(users) else len(conversation)
    replies = [m["content"] for m in conversation[cut + 1 : following] if m["role"] == "assistant"]
    if not replies:
        f.problem(name, f"has no assistant reply to user turn {wanted}")
        return None, None
    prompt = [m for m in conversation[: cut + 1] if m["role"] != "assistant"]
    return prompt, replies[-1]


BATTLES = JudgmentFormat(
    "Chatbot Arena battles / MT-Bench human judgments",
    recognises=lambda data: "winner" in data,
    read=battle_from,
)
