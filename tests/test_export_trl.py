"""Exports read by TRL's own preference-data functions (``trl.data_utils``).

TRL's trainers run these on a preference dataset before training: ``is_conversational`` decides
how to template it, ``maybe_extract_prompt`` splits implicit-prompt data (HH-RLHF) into prompt and
answers, ``maybe_apply_chat_template`` renders conversational records with a tokenizer's chat
template. TRL's data utilities need ``transformers`` (installed with the test extras) but not
PyTorch, so ``trl`` is installed without its training dependencies (``pip install --no-deps trl``,
as ``.ci/run`` does); without it these tests are skipped locally and fail in CI.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pairwise.export import ExportOptions, export_dataset

try:
    from trl import data_utils as trl_data
except ImportError:  # pragma: no cover - depends on the machine
    if os.environ.get("CI"):
        raise
    pytest.skip("trl is not installed (pip install --no-deps trl)", allow_module_level=True)

import datasets
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    """A tokenizer with a chat template, built here: no model is downloaded."""
    core = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    made = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]")
    made.chat_template = CHAT_TEMPLATE
    return made


def _dataset(store, tmp_path: Path, fmt: str, **options) -> datasets.Dataset:
    written = export_dataset(store, tmp_path / fmt, ExportOptions(format=fmt, **options))
    return datasets.load_dataset(
        "json", data_files=str(written.files["all"]), split="train", cache_dir=str(tmp_path / "c")
    )


def test_conversational_export_is_templated_by_trl(judged, tmp_path, tokenizer):
    data = _dataset(judged, tmp_path, "trl-conversational")
    assert len(data) > 0
    assert trl_data.is_conversational(data[0])
    templated = data.map(
        trl_data.maybe_apply_chat_template, fn_kwargs={"processing_class": tokenizer}
    )
    for before, after in zip(data, templated, strict=True):
        # The prompt becomes the whole conversation up to the assistant's turn, and the answers
        # the chosen and rejected texts: TRL read every message of our records.
        assert after["prompt"].endswith("<|assistant|>")
        assert after["prompt"].count("<|user|>") == sum(
            m["role"] == "user" for m in before["prompt"]
        )
        assert after["chosen"].startswith(before["chosen"][0]["content"])
        assert after["rejected"].startswith(before["rejected"][0]["content"])


def test_standard_export_passes_through_trl_unchanged(judged, tmp_path, tokenizer):
    data = _dataset(judged, tmp_path, "trl-standard")
    assert not trl_data.is_conversational(data[0])
    for row in data:
        assert trl_data.maybe_apply_chat_template(row, tokenizer) == row
        assert trl_data.maybe_extract_prompt(row) == row  # explicit prompt: left as it is


def test_hh_rlhf_export_is_split_by_trl_like_the_standard_records(judged, tmp_path):
    hh = _dataset(judged, tmp_path, "hh-rlhf")
    standard = _dataset(judged, tmp_path, "trl-standard")
    assert "prompt" not in hh.column_names
    split = hh.map(trl_data.maybe_extract_prompt)
    for got, want in zip(split, standard, strict=True):
        # TRL takes the longest common prefix of the two transcripts as the prompt, so when both
        # answers open with the same words those words move into the prompt; the texts are the same.
        assert got["prompt"].startswith(want["prompt"])
        assert got["prompt"] + got["chosen"] == want["prompt"] + want["chosen"]
        assert got["prompt"] + got["rejected"] == want["prompt"] + want["rejected"]
        shared = got["prompt"][len(want["prompt"]) :]
        assert want["chosen"].startswith(shared) and want["rejected"].startswith(shared)


def test_reward_margin_is_a_number_per_record(judged, tmp_path):
    data = _dataset(judged, tmp_path, "trl-conversational", margins={1: 0.33, 2: 0.67, 3: 1.0})
    margins = data["margin"]
    # A majority record's margin is the mean mapped level of the judgments on the winning side.
    assert all(isinstance(m, float) and 0.33 <= m <= 1.0 for m in margins)
    assert len(set(margins)) > 1
