"""``pairwise import scores``: JSON lines and CSV in, errors by file, line and field with nothing
written, idempotent re-imports, and the report's scorer accuracy against a count of its own."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from click.testing import CliRunner

from pairwise.cli import main
from pairwise.ingest import IngestError, import_scores
from pairwise.report import report_from_store, report_json

# What the scorer believes of each demo model: the order the demo's annotators lean to.
STRENGTH = {"cirrus-70b-chat": 1.0, "borealis-13b-instruct": 0.3, "atlas-7b-chat": -0.8}


def _scores(store, scorer="rm-1", noise=0.5, seed=0):
    rng = random.Random(seed)
    return [
        {
            "prompt_id": p,
            "model": m,
            "scorer": scorer,
            "score": STRENGTH[m] + rng.gauss(0, noise),
        }
        for (p, m) in sorted(store.response_ids())
    ]


def _jsonl(rows) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def test_import_jsonl_and_csv_then_reimport_is_unchanged(judged, write_file):
    rows = _scores(judged)
    result = CliRunner().invoke(
        main, ["--db", judged.path, "import", "scores", str(write_file("s.jsonl", _jsonl(rows)))]
    )
    assert result.exit_code == 0, result.output
    assert f"scores: {len(rows)} inserted" in result.output
    again = import_scores(judged, write_file("s2.jsonl", _jsonl(rows)))
    assert again.unchanged == {"scores": len(rows)} and again.inserted == {"scores": 0}
    csv = "prompt_id,model,scorer,score\n" + "".join(
        f"{r['prompt_id']},{r['model']},rm-2,{-r['score']}\n" for r in rows
    )
    assert import_scores(judged, write_file("s.csv", csv)).inserted == {"scores": len(rows)}
    frame = judged.scores_frame()
    assert len(frame) == 2 * len(rows) and set(frame["scorer"]) == {"rm-1", "rm-2"}


def test_bad_records_name_file_line_and_field_and_write_nothing(judged, write_file):
    good = _scores(judged)[:2]
    bad = [
        *good,
        {"prompt_id": good[0]["prompt_id"], "model": "nobody", "scorer": "rm", "score": 1},
        {
            "prompt_id": good[0]["prompt_id"],
            "model": good[0]["model"],
            "scorer": "rm",
            "score": "high",
        },
        {"prompt_id": good[0]["prompt_id"], "model": good[0]["model"], "scorer": "rm"},
    ]
    path = write_file("bad.jsonl", _jsonl(bad))
    with pytest.raises(IngestError) as error:
        import_scores(judged, path)
    text = str(error.value)
    assert 'bad.jsonl, line 4, field "score": must be a number, not a string' in text
    assert 'line 5, field "score": is missing' in text
    assert judged.scores_frame().empty
    unknown = write_file("unknown.jsonl", _jsonl([*good, bad[2]]))
    with pytest.raises(IngestError, match="line 3, field \"model\": no response of 'nobody'"):
        import_scores(judged, unknown)
    assert judged.scores_frame().empty


def test_another_score_for_a_scored_response_is_refused(judged, write_file):
    row = _scores(judged)[0]
    import_scores(judged, write_file("a.jsonl", _jsonl([row])))
    changed = dict(row, score=row["score"] + 1)
    with pytest.raises(IngestError, match="differs from the stored"):
        import_scores(judged, write_file("b.jsonl", _jsonl([changed])))
    with pytest.raises(IngestError, match="differs from .* on line 1"):
        import_scores(
            judged,
            write_file("c.jsonl", _jsonl([dict(row, scorer="x"), dict(changed, scorer="x")])),
        )


def test_report_accuracy_matches_a_count_over_the_judgments(judged, write_file):
    rows = _scores(judged, noise=0.8)
    import_scores(judged, write_file("s.jsonl", _jsonl(rows)))
    data = report_json(report_from_store(judged, "demo", rounds=100))
    score = {(r["prompt_id"], r["model"]): r["score"] for r in rows}
    frame = judged.judgments_frame("demo", include_gold=False)
    by_margin: dict[object, list[int]] = {}
    human_ties = 0
    for j in frame.itertuples():
        if j.score == 0:
            human_ties += 1
            continue
        right = np.sign(
            score[(j.prompt_id, j.model_a)] - score[(j.prompt_id, j.model_b)]
        ) == np.sign(j.score)
        for key in ("all", abs(j.score)):
            by_margin.setdefault(key, []).append(int(right))
    section = {(r["strength"] if r["margin"] is None else r["margin"]): r for r in data["scorers"]}
    assert set(section) == set(by_margin)
    for key, hits in by_margin.items():
        assert (section[key]["n"], section[key]["correct"]) == (len(hits), sum(hits))
        low, high = section[key]["ci"]
        assert low <= section[key]["accuracy"] <= high
    assert section["all"]["human_ties"] == human_ties
    assert section[3]["strength"] == "much better" and section[3]["scale"] == 7


def test_scores_of_either_sign_import_and_infinities_do_not(judged, write_file):
    row = _scores(judged)[0]
    negative = import_scores(judged, write_file("n.jsonl", _jsonl([dict(row, score=-3.5)])))
    assert negative.inserted == {"scores": 1}
    path = write_file(
        "inf.csv", f"prompt_id,model,scorer,score\n{row['prompt_id']},{row['model']},z,inf\n"
    )
    with pytest.raises(IngestError, match='line 2, field "score": inf is out of range'):
        import_scores(judged, path)
