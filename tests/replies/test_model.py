"""The learned model: shipped in step with its corpus, its figures on the held-out corpus (never trained or tuned
on), its confidence, mixed intents, and its cost."""

from __future__ import annotations

import datetime as dt
import json
import re
from itertools import pairwise
from pathlib import Path

import pytest

from plixo.replies import model as model_module
from plixo.replies.classifier import AUTO_CONFIDENCE, LABELS, classify_reply
from plixo.replies.evaluation import evaluate
from plixo.replies.train import CORPUS, corpus_sha256, read

DATA = Path(__file__).parent / "data"
# Written for measuring only, by a writer who saw neither the corpus nor the classifier, and measured once after the
# last training run. (The three earlier held-out sets became training data once they had been measured and read.)
HOLDOUT = DATA / "corpus_holdout4.jsonl"
HOLDOUTS = (HOLDOUT,)
# The targets: accuracy 0.85, dispute recall 0.85 at precision 0.90, promise recall 0.80, no class under 0.70
# recall, confident answers right 95 % of the time.
TARGETS = {"accuracy": 0.85, "dispute_recall": 0.85, "dispute_precision": 0.90, "promise_recall": 0.80,
           "class_recall": 0.70, "auto_accuracy": 0.95}
FLOORS = {HOLDOUT: TARGETS}
WEDNESDAY = dt.date(2026, 12, 2)


@pytest.fixture(scope="module", params=HOLDOUTS, ids=["holdout4"])
def holdout(request):
    result = evaluate(request.param)
    result.floors = FLOORS[request.param]
    result.path = request.param
    return result


def test_the_shipped_model_was_trained_on_the_corpus_as_it_is():
    shipped = json.loads(model_module.WEIGHTS.read_text(encoding="utf-8"))
    assert shipped["corpus_sha256"] == corpus_sha256(), "corpus changed: run python -m plixo.replies.train"


def test_the_held_out_replies_are_not_in_the_training_corpus():
    trained = read(CORPUS)
    for path in HOLDOUTS:
        held_out = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert not {row["id"] for row in held_out} & {row["id"] for row in trained}
        assert not {row["body"] for row in held_out} & {row["body"] for row in trained}


def test_the_corpus_is_large_and_covers_every_class(holdout):
    trained = read(CORPUS)
    assert len(trained) + holdout.total >= 600 and holdout.total >= 150
    assert all(sum(row["label"] == label for row in trained) >= 60 for label in LABELS)
    assert all(holdout.expected[label] >= 12 for label in LABELS)


def test_held_out_accuracy_and_recall_floors(holdout):
    floors = holdout.floors
    assert holdout.correct / holdout.total >= floors["accuracy"], holdout.mistakes
    assert holdout.recall("dispute") >= floors["dispute_recall"]
    assert holdout.precision("dispute") >= floors["dispute_precision"]
    assert holdout.recall("promise") >= floors["promise_recall"]
    assert all(holdout.recall(label) >= floors["class_recall"] for label in LABELS), holdout.as_dict()["per_class"]


def test_confident_answers_are_right_often_enough_to_act_on(holdout):
    assert holdout.confident >= holdout.total / 3
    assert holdout.confident_accuracy() >= holdout.floors["auto_accuracy"]


def classify(body: str, subject: str = "RE: Invoice INV-1042 is overdue"):
    return classify_reply(subject, body, WEDNESDAY, "USD", {})


def test_a_disputed_line_with_a_promise_for_the_rest_is_mixed():
    understood = classify("Line 2 is wrong, we never ordered it. We will pay the other lines on Friday.")
    assert understood.label == "dispute" and understood.mixed


def test_a_plain_promise_is_not_mixed():
    understood = classify("We will pay this on Friday.")
    assert understood.label == "promise" and not understood.mixed


def test_the_model_reason_names_the_words_present():
    reasons = classify("We are holding the funds until the replacement parts arrive.").reasons
    assert reasons[-1].startswith("model ") and "“" in reasons[-1]


@pytest.mark.parametrize("body", [
    "We don't owe this, we're not releasing funds until the replacement arrives. Ref 4471, qty 3 not 5.",
    "I can't find it, can u resend the e-mail with the PDF? Thx",
    "Paid. Ref 77231904, €1.250,00 on 27/11.",
])
def test_the_model_reason_lists_only_whole_words_or_word_pairs_from_the_reply(body):
    words = re.findall(r"“([^”]*)”", classify(body).reasons[-1])
    present = re.findall(r"\w+(?:['’]\w+)*", body.lower())
    pairs = {f"{first} {second}" for first, second in pairwise(present)}
    assert words
    for word in words:
        assert word in present or word in pairs, word
        assert all(len(part) > 1 and not any(char.isdigit() for char in part) for part in word.split()), word


def test_the_shipped_file_is_small():
    assert model_module.WEIGHTS.stat().st_size < 3_000_000


def test_confidence_is_a_probability():
    understood = classify("we payed this last week")
    assert 0 < understood.confidence <= 1 and AUTO_CONFIDENCE < 1
