"""How well the reply classifier does on a labelled set: precision and recall per class, how often it reads
the stated amount, promised date and return date right, how often its confident answers are right, and how long
one reply takes to classify."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from plixo.params import parse_amount_input
from plixo.replies.classifier import AUTO_CONFIDENCE, LABELS, classify_reply


@dataclass
class Evaluation:
    total: int = 0
    correct: int = 0
    predicted: Counter = field(default_factory=Counter)
    expected: Counter = field(default_factory=Counter)
    hits: Counter = field(default_factory=Counter)
    facts_checked: Counter = field(default_factory=Counter)
    facts_right: Counter = field(default_factory=Counter)
    mistakes: list[tuple[str, str, str]] = field(default_factory=list)  # id, expected, predicted
    confident: int = 0  # replies at or above AUTO_CONFIDENCE
    confident_right: int = 0
    seconds: list[float] = field(default_factory=list)  # classify time per reply

    def confident_accuracy(self) -> float | None:
        return self.confident_right / self.confident if self.confident else None

    def precision(self, label: str) -> float | None:
        return self.hits[label] / self.predicted[label] if self.predicted[label] else None

    def recall(self, label: str) -> float | None:
        return self.hits[label] / self.expected[label] if self.expected[label] else None

    def fact_accuracy(self, fact: str) -> float | None:
        return self.facts_right[fact] / self.facts_checked[fact] if self.facts_checked[fact] else None

    def as_dict(self) -> dict:
        return {
            "replies": self.total, "accuracy": round(self.correct / self.total, 3) if self.total else None,
            "per_class": {label: {"precision": _rounded(self.precision(label)), "recall": _rounded(self.recall(label)),
                                  "support": self.expected[label]} for label in LABELS},
            "facts": {fact: {"accuracy": _rounded(self.fact_accuracy(fact)), "checked": self.facts_checked[fact]}
                      for fact in ("amount", "date", "return_date")},
            "auto": {"confidence": AUTO_CONFIDENCE, "replies": self.confident,
                     "accuracy": _rounded(self.confident_accuracy())},
            "classify_ms": {"mean": round(1000 * sum(self.seconds) / len(self.seconds), 3) if self.seconds else None,
                            "max": round(1000 * max(self.seconds), 3) if self.seconds else None},
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def evaluate(path: Path) -> Evaluation:
    """Classify every reply of a JSON Lines file (subject, body, headers, label, currency, received, and the
    amount, date or return_date it states) and compare with its labels."""
    result = Evaluation()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            _score(result, json.loads(line))
    return result


def _score(result: Evaluation, reply: dict) -> None:
    received = dt.date.fromisoformat(reply["received"])
    started = time.perf_counter()
    understood = classify_reply(reply["subject"], reply["body"], received, reply["currency"], reply.get("headers"))
    result.seconds.append(time.perf_counter() - started)
    expected = reply["label"]
    if understood.confidence >= AUTO_CONFIDENCE:
        result.confident += 1
        result.confident_right += understood.label == expected
    result.total += 1
    result.expected[expected] += 1
    result.predicted[understood.label] += 1
    if understood.label == expected:
        result.correct += 1
        result.hits[expected] += 1
        _score_facts(result, reply, understood)
    else:
        result.mistakes.append((reply["id"], expected, understood.label))


def _score_facts(result: Evaluation, reply: dict, understood) -> None:
    """Facts are judged on replies classified right, where the label states them."""
    checks = []
    if reply["label"] == "promise" and reply.get("amount"):
        checks.append(("amount", parse_amount_input(reply["amount"], reply["currency"]), understood.amount_minor))
    if reply["label"] == "promise" and reply.get("date"):
        checks.append(("date", dt.date.fromisoformat(reply["date"]), understood.promised_date))
    if reply["label"] == "out_of_office" and reply.get("return_date"):
        checks.append(("return_date", dt.date.fromisoformat(reply["return_date"]), understood.return_date))
    for fact, wanted, found in checks:
        result.facts_checked[fact] += 1
        result.facts_right[fact] += wanted == found
