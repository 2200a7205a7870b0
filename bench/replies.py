"""Report: the reply classifier on the labelled set, precision and recall per class.

    python -m bench.replies [--file tests/replies/data/replies.jsonl]

Prints a table (and the misclassified replies), then one JSON line last with the figures, including the
mean and max time to classify one reply (the model is loaded before timing starts).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from plixo.replies.classifier import LABELS
from plixo.replies.evaluation import evaluate
from plixo.replies.model import shipped

DEFAULT = Path(__file__).resolve().parent.parent / "tests" / "replies" / "data" / "replies.jsonl"


def _shown(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT)
    path = parser.parse_args().file
    shipped()  # read the model first, so the timings are of classifying alone
    result = evaluate(path)
    print(f"{'class':<14} {'precision':>9} {'recall':>7} {'support':>8}")
    for label in LABELS:
        print(f"{label:<14} {_shown(result.precision(label)):>9} {_shown(result.recall(label)):>7} "
              f"{result.expected[label]:>8}")
    for fact in ("amount", "date", "return_date"):
        print(f"{fact:<14} read right {_shown(result.fact_accuracy(fact))} of {result.facts_checked[fact]}")
    auto = result.confident_accuracy()
    print(f"confidence >= {result.as_dict()['auto']['confidence']}: {result.confident} replies, right {_shown(auto)}")
    for reply_id, expected, predicted in result.mistakes:
        print(f"  {reply_id}: expected {expected}, classified {predicted}")
    print(json.dumps(result.as_dict()))


if __name__ == "__main__":
    main()
