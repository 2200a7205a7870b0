"""The learned half of the reply classifier: a multinomial logistic regression over the payer's own words (word
unigrams and bigrams, character 3-5-grams within words) and over which rules fired.

The weights are plain JSON (`weights.json`, written by `python -m plixo.replies.train`), read once per process on
first use: no pickle is ever loaded, and a retrained model shows up in a diff. Scoring is a few dictionary look-ups,
so nothing beyond the standard library is needed at run time.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path

WEIGHTS = Path(__file__).with_name("weights.json")
CHAR_SIZES = (3, 4, 5)
_TOKEN = re.compile(r"\w+(?:['’]\w+)*")  # "don't" is one word, not "don" and "t"
# Word pairs never span punctuation or a line break: "paid. Thanks" is no pair a person wrote.
_PHRASE = re.compile(r"[.!?;:,()\[\]{}<>\"“”„«»/|*\n]+")
# Words too common to tell a person anything when listed as the reason for a class.
_PLAIN = frozenset(("a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "do", "for", "from", "have", "hi",
                    "hello", "i", "in", "is", "it", "its", "me", "my", "of", "on", "or", "our", "so", "that", "the",
                    "this", "to", "us", "was", "we", "were", "will", "with", "you", "your", "0"))
_DIGIT = re.compile(r"\d")
# A sign-off line and the name, title and company below it: the same few people sign every kind of reply, so their
# names would only teach the model coincidences.
_SIGN_OFF = re.compile(r"^[ \t]*(?:(?:many |best |kind |warm )?(?:thanks|thank you|regards|wishes)|best|cheers|ty|ta"
                       r"|sincerely|yours(?: \w+)?|mit freundlichen gr[üu](?:ß|ss)en|viele gr[üu](?:ß|ss)e|cordialement"
                       r"|bien [àa] vous|saludos(?: cordiales)?|un saludo|atentamente|met vriendelijke groet(?:en)?"
                       r"|groeten)[ \t]*[,.!]?[ \t]*$|^[ \t]*sent from my \w+", re.I | re.M)


def _tokens(text: str) -> list[str]:
    # Numbers (amounts, references, dates) differ in every reply; only that there is one carries meaning.
    return ["0" if _DIGIT.search(token) else token.replace("’", "'") for token in _TOKEN.findall(text.lower())]


def _readable(name: str) -> bool:
    """A word or word pair worth showing a person: whole words of two letters or more, no number stand-ins, not
    only filler words."""
    words = name.split()
    return all(len(word) > 1 and not _DIGIT.search(word) and not word.startswith("_") for word in words) and not \
        _PLAIN.issuperset(words)


def without_sign_off(text: str) -> str:
    sign_off = _SIGN_OFF.search(text)
    return text[:sign_off.start()] if sign_off else text


def ngram_counts(text: str) -> Counter:
    """How often each word, word pair and within-word character n-gram occurs in `text` (up to its sign-off)."""
    phrases = [_tokens(phrase) for phrase in _PHRASE.split(without_sign_off(text))]
    tokens = [token for phrase in phrases for token in phrase]
    counts = Counter(f"w:{token}" for token in tokens)
    counts.update(f"w:{first} {second}" for phrase in phrases for first, second in pairwise(phrase))
    for token in tokens:
        padded = f" {token} "
        for size in CHAR_SIZES:
            counts.update(f"c:{padded[i:i + size]}" for i in range(len(padded) - size + 1))
    return counts


def weighted(counts: Counter, idf: dict[str, float], signals: dict[str, float]) -> dict[str, float]:
    """The feature vector: damped term frequency times rarity for the text, scaled to unit length (so long and
    short replies weigh alike), plus the rule signals as they are."""
    vector = {name: (1 + math.log(count)) * idf[name] for name, count in counts.items() if name in idf}
    norm = math.sqrt(sum(value * value for value in vector.values())) or 1.0
    vector = {name: value / norm for name, value in vector.items()}
    vector.update(signals)
    return vector


@dataclass(frozen=True)
class Model:
    labels: tuple[str, ...]
    intercept: tuple[float, ...]
    idf: dict[str, float]
    weights: dict[str, tuple[float, ...]]  # per feature, one weight per label
    corpus_sha256: str

    @classmethod
    def from_json(cls, data: dict) -> Model:
        return cls(tuple(data["labels"]), tuple(data["intercept"]), data["idf"],
                   {name: tuple(values) for name, values in data["weights"].items()}, data["corpus_sha256"])

    def vector(self, text: str, signals: dict[str, float]) -> dict[str, float]:
        known = {name: value for name, value in signals.items() if name in self.weights}
        return weighted(ngram_counts(text), self.idf, known)

    def probabilities(self, vector: dict[str, float]) -> dict[str, float]:
        scores = list(self.intercept)
        for name, value in vector.items():
            for index, weight in enumerate(self.weights.get(name, ())):
                scores[index] += weight * value
        top = max(scores)
        exps = [math.exp(score - top) for score in scores]
        total = sum(exps)
        return {label: exp / total for label, exp in zip(self.labels, exps, strict=True)}

    def telling_words(self, vector: dict[str, float], label: str, limit: int = 3) -> list[str]:
        """The words and word pairs present that pushed most towards `label` (n-grams are not readable)."""
        index = self.labels.index(label)
        pushes = []
        for name, value in vector.items():
            if name.startswith("w:") and name in self.weights and _readable(name[2:]):
                row = self.weights[name]
                push = value * (row[index] - sum(row) / len(row))
                if push > 0:
                    pushes.append((-push, name[2:]))
        return [word for _push, word in sorted(pushes)[:limit]]


@cache
def shipped() -> Model:
    """The model in the package, read on first use only."""
    return Model.from_json(json.loads(WEIGHTS.read_text(encoding="utf-8")))
