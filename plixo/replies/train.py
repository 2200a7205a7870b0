"""Train the reply model on the labelled corpus and write it to plixo/replies/model/weights.json.

    python -m plixo.replies.train [--check]

Deterministic: the corpus is read sorted by id, the vocabulary is sorted and the solver (lbfgs) has no randomness,
so the same corpus always gives the same file. The file records the corpus's sha256, so a test fails when the
corpus changes without retraining.

Validation leaves one source out at a time: the corpus was written in batches (the id's prefix names the batch),
and replies of one batch share a writer's habits, so a model tested on replies from its own batches looks better
than it will on a stranger's words. Each batch is predicted by a model trained on all the others. Prints accuracy,
precision and recall per regularisation strength, how often the predictions at or above each confidence were right
(what AUTO_CONFIDENCE in classifier.py is chosen from) and dispute precision and recall per dispute gate (what
DISPUTE_WORDS_ALONE is chosen from). --check only compares the shipped file with the corpus.

Needs scikit-learn (pinned in requirements.txt); classifying does not.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from collections import Counter
from pathlib import Path

from plixo.replies.classifier import DISPUTE_WORDS_ALONE, LABELS, decide, own_words, rule_signals, signal_values
from plixo.replies.model import WEIGHTS, Model, ngram_counts, weighted

CORPUS = Path(__file__).with_name("corpus") / "train.jsonl"
MIN_DOCUMENTS = 2  # an n-gram seen in one reply only is that reply's quirk, not a pattern
STRENGTHS = (30.0, 100.0, 300.0)  # inverse regularisation strengths tried
GATES = (0.3, 0.4, 0.5, 0.6, 0.7)  # dispute gates reported (classifier.DISPUTE_WORDS_ALONE)
SMALL_SOURCE = 50  # batches smaller than this are validated together, as one
DIGITS = 4  # weights rounded for a small, stable file; scores move by far less than any decision margin


def corpus_sha256(path: Path = CORPUS) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read(path: Path = CORPUS) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return sorted(rows, key=lambda row: row["id"])


def _observed(row: dict) -> tuple[Counter, dict[str, float]]:
    text = own_words(row["body"])
    scores, _reasons, fired = rule_signals(row["subject"], text, row.get("headers") or {})
    return ngram_counts(text), signal_values(scores, fired)


def fit(rows: list[dict], strength: float, digest: str = "") -> Model:
    """Vocabulary, rarity and weights from `rows`, as the Model the classifier scores with."""
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    observed = [_observed(row) for row in rows]
    documents = Counter(name for counts, _signals in observed for name in counts)
    total = len(rows)
    # Smoothed as scikit-learn's TfidfVectorizer does, so no feature's weight is ever zero.
    idf = {name: round(math.log((1 + total) / (1 + seen)) + 1, DIGITS)
           for name, seen in sorted(documents.items()) if seen >= MIN_DOCUMENTS}
    signals = sorted({name for _counts, fired in observed for name in fired})
    columns = {name: index for index, name in enumerate([*idf, *signals])}
    data, indices, pointers = [], [], [0]
    for counts, fired in observed:
        for name, value in sorted(weighted(counts, idf, fired).items()):
            indices.append(columns[name])
            data.append(value)
        pointers.append(len(indices))
    matrix = csr_matrix((data, indices, pointers), shape=(total, len(columns)))
    learner = LogisticRegression(C=strength, max_iter=5000, tol=1e-6, solver="lbfgs")
    learner.fit(matrix, [row["label"] for row in rows])
    order = [list(learner.classes_).index(label) for label in LABELS]
    weights = {name: tuple(round(float(learner.coef_[k][index]), DIGITS) for k in order)
               for name, index in columns.items()}
    intercept = tuple(round(float(learner.intercept_[k]), DIGITS) for k in order)
    return Model(LABELS, intercept, idf, weights, digest)


def _predict(model: Model, row: dict) -> tuple[dict[str, float], dict[str, int]]:
    text = own_words(row["body"])
    scores, _reasons, fired = rule_signals(row["subject"], text, row.get("headers") or {})
    return model.probabilities(model.vector(text, signal_values(scores, fired))), scores


def source_of(row: dict, sizes: Counter) -> str:
    prefix = row["id"].split("-")[0]
    return prefix if sizes[prefix] >= SMALL_SOURCE else "small batches"


def out_of_source(rows: list[dict], strength: float) -> list[tuple[str, dict[str, float], dict[str, int]]]:
    """(expected, chances, rule totals) for every row, each predicted by a model that saw none of its batch."""
    sizes = Counter(row["id"].split("-")[0] for row in rows)
    sources = [source_of(row, sizes) for row in rows]
    results = []
    for source in sorted(set(sources)):
        model = fit([row for row, own in zip(rows, sources, strict=True) if own != source], strength)
        results.extend((row["label"], *_predict(model, row))
                       for row, own in zip(rows, sources, strict=True) if own == source)
    return results


def decided(results: list[tuple[str, dict[str, float], dict[str, int]]], gate: float = DISPUTE_WORDS_ALONE
            ) -> list[tuple[str, str, float]]:
    """(expected, predicted, confidence) for validation results, with the dispute gate `gate`."""
    labelled = [(expected, decide(chances, scores, gate), chances) for expected, chances, scores in results]
    return [(expected, predicted, chances[predicted]) for expected, predicted, chances in labelled]


def _report_confidence(results: list[tuple[str, str, float]]) -> None:
    for floor in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9):
        sure = [(expected, predicted) for expected, predicted, confidence in results if confidence >= floor]
        right = sum(expected == predicted for expected, predicted in sure)
        print(f"  confidence >= {floor:.2f}: {len(sure):>4} replies, right {right / max(len(sure), 1):.3f}")


def _report_classes(results: list[tuple[str, str, float]]) -> None:
    for label in LABELS:
        hits = sum(expected == predicted == label for expected, predicted, _c in results)
        said = sum(predicted == label for _e, predicted, _c in results)
        there = sum(expected == label for expected, _p, _c in results)
        print(f"  {label:<14} precision {hits / max(said, 1):.3f} recall {hits / max(there, 1):.3f}")


def _report_gates(results: list[tuple[str, dict[str, float], dict[str, int]]]) -> None:
    """Dispute precision and recall for each dispute gate tried: what DISPUTE_WORDS_ALONE is chosen from."""
    for gate in GATES:
        labelled = decided(results, gate)
        hits = sum(expected == predicted == "dispute" for expected, predicted, _c in labelled)
        said = sum(predicted == "dispute" for _e, predicted, _c in labelled)
        there = sum(expected == "dispute" for expected, _p, _c in labelled)
        print(f"  dispute gate {gate:.2f}: precision {hits / max(said, 1):.3f} recall {hits / max(there, 1):.3f}")


def as_json(model: Model) -> str:
    data = {"corpus_sha256": model.corpus_sha256, "labels": list(model.labels), "intercept": list(model.intercept),
            "idf": model.idf, "weights": {name: list(values) for name, values in model.weights.items()}}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the shipped model matches the corpus")
    if parser.parse_args().check:
        shipped = json.loads(WEIGHTS.read_text(encoding="utf-8"))["corpus_sha256"]
        print("up to date" if shipped == corpus_sha256() else "stale: run python -m plixo.replies.train")
        return 0 if shipped == corpus_sha256() else 1
    rows = read()
    best, best_accuracy = STRENGTHS[0], -1.0
    for strength in STRENGTHS:
        raw = out_of_source(rows, strength)
        results = decided(raw)
        accuracy = sum(expected == predicted for expected, predicted, _c in results) / len(results)
        print(f"C={strength:<6} accuracy on unseen batches {accuracy:.3f}")
        _report_classes(results)
        _report_confidence(results)
        _report_gates(raw)
        if accuracy > best_accuracy:
            best, best_accuracy = strength, accuracy
    model = fit(rows, best, corpus_sha256())
    WEIGHTS.write_text(as_json(model), encoding="utf-8")
    print(f"C={best}: {len(model.weights)} features, {WEIGHTS.stat().st_size / 1e6:.2f} MB written to {WEIGHTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
