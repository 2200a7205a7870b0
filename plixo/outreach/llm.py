"""The writing assistant: an optional OpenAI-compatible model that rewrites the prose of a drafted e-mail.

Only the compose box asks it, for a draft a person reads before sending. The sender, `rerender` and the
Autopilot engine never do: they write thousands of e-mails nobody reviews, at send time, where an answer
that is slow or different on every call has no place. Cadence e-mails come from the rule-based drafter alone.

The provider receives the draft with its merge fields, never the values: amounts, dates, invoice numbers and
links stay here. What comes back is checked (every merge field kept and none added, no new numbers, links or
addresses, a sensible length, no banned phrase); on any failure the rule-based draft is used and the reason
is logged and shown next to the draft.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass

import requests
from flask import current_app

from plixo.outreach.merge_fields import merge_fields_in, without_merge_fields
from plixo.redis_conn import get_redis

log = logging.getLogger(__name__)

MIN_RATIO, MAX_RATIO = 0.5, 1.6  # of the draft's length: a rewrite, not a summary or an essay
MAX_CHARS = 4000
KEPT_SECONDS = 24 * 3600  # J/K through the queue opens the same drafts again and again
FAILED_SECONDS = 300  # a refused rewrite is not asked for again at once
PAUSE_SECONDS = 60  # after a provider error, drafts go without it for a while rather than each wait for it
_PAUSED_KEY = "plixo:writing-assistant:paused"

# Phrases a rewrite may not introduce. Threats and legal language: a reminder must not announce steps the
# workspace has not decided on, and anything legal goes through Legal, not a reworded sentence.
BANNED_PHRASES = (
    "legal action", "legal proceedings", "lawyer", "attorney", "solicitor", "court", "sue", "lawsuit",
    "litigation", "collection agency", "collections agency", "debt collector", "bailiff", "final warning",
    "or else", "blacklist",
    # Consequences and concessions that are the workspace's call: credit reporting, fees, interest, discounts.
    "credit report", "credit score", "credit rating", "late fee", "penalty", "interest", "surcharge",
    "discount", "waive", "guarantee", "guaranteed",
    # Traces of the assistant rather than of an e-mail.
    "as an ai", "language model", "rewritten", "rewrite", "subject:", "```",
)
# Pressure only a firm e-mail may add.
FIRM_ONLY_PHRASES = ("final notice", "final reminder", "last chance", "immediately", "urgent", "escalate",
                     "escalation")
# Numbers written out count as numbers ("within five days" invents a deadline as surely as "5"). "one" and
# "second" are left out: they are everywhere in ordinary prose ("no one", "a second look").
NUMBER_WORDS = frozenset((
    "zero", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen",
    "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty", "forty", "fifty",
    "sixty", "seventy", "eighty", "ninety", "hundred", "thousand", "million", "billion", "dozen", "half", "twice",
    "third", "fourth", "fifth", "percent",
))
_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*|[$€£¥₹%]")
_WORD = re.compile(r"[a-z]+")
_LINK = re.compile(r"(?i)\b(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+\.[\w.-]+|\b[\w-]+\.(?:com|net|org|io|co|biz|info)\b")


@dataclass(frozen=True)
class Rewrite:
    """The body the compose box shows, whether the assistant wrote it, and if not, why."""

    body: str
    used: bool
    reason: str = ""


class AssistantError(Exception):
    """The provider gave no usable answer; the message says why, for the log and the compose box."""


def configured() -> bool:
    """Whether a provider is set up (LLM_BASE_URL and LLM_MODEL)."""
    config = current_app.config
    return bool(config.get("LLM_BASE_URL") and config.get("LLM_MODEL"))


def rewrite(body: str, tone: str) -> Rewrite | None:
    """The assistant's rewrite of a drafted body, or the draft with the reason; None when no provider is set."""
    if not configured():
        return None
    redis = get_redis()
    key = _cache_key(body, tone)
    cached = redis.get(key)
    if cached is not None:
        return _outcome(body, json.loads(cached))
    if redis.exists(_PAUSED_KEY):
        return _kept(body, "it is unavailable for the moment")
    try:
        answer = ask_provider(body, tone)
    except AssistantError as error:
        redis.set(_PAUSED_KEY, "1", ex=PAUSE_SECONDS)
        return _kept(body, str(error))
    problem = check_rewrite(body, answer, tone)
    redis.set(key, json.dumps({"body": "" if problem else answer, "reason": problem}),
              ex=FAILED_SECONDS if problem else KEPT_SECONDS)
    return _outcome(body, {"body": answer, "reason": problem})


def _outcome(body: str, stored: dict) -> Rewrite:
    if stored["reason"]:
        return _kept(body, stored["reason"])
    return Rewrite(stored["body"], True)


def _kept(body: str, reason: str) -> Rewrite:
    log.info("Writing assistant not used, rule-based draft kept: %s", reason)
    return Rewrite(body, False, reason)


def _cache_key(body: str, tone: str) -> str:
    config = current_app.config
    digest = hashlib.sha256(f"{config['LLM_BASE_URL']}\n{config['LLM_MODEL']}\n{tone}\n{body}".encode()).hexdigest()
    return f"plixo:writing-assistant:{digest}"


# --- The provider -----------------------------------------------------------------------------------------

INSTRUCTIONS = (
    "You edit e-mails that remind customers of unpaid invoices. Rewrite the e-mail the user sends so it reads "
    "naturally, in a {tone} tone, with the same meaning, greeting and sign-off. Rules: keep every placeholder in "
    "curly braces, such as {{invoice_number}}, exactly as written, and add no other placeholder; write no numbers, "
    "amounts, dates, links or e-mail addresses yourself (the placeholders carry them); threaten nothing and promise "
    "nothing the e-mail does not; keep it about as long as it is. Answer with the e-mail body only."
)


def ask_provider(body: str, tone: str) -> str:
    """The provider's rewrite of `body` (POST {LLM_BASE_URL}/chat/completions); AssistantError when it fails."""
    config = current_app.config
    headers = {"Authorization": f"Bearer {config['LLM_API_KEY']}"} if config.get("LLM_API_KEY") else {}
    payload = {"model": config["LLM_MODEL"], "temperature": 0.4,
               "messages": [{"role": "system", "content": INSTRUCTIONS.format(tone=tone)},
                            {"role": "user", "content": body}]}
    try:
        response = requests.post(config["LLM_BASE_URL"].rstrip("/") + "/chat/completions", json=payload,
                                 headers=headers, timeout=config.get("LLM_TIMEOUT_SECONDS") or 10)
    except requests.Timeout as exc:
        raise AssistantError("it did not answer in time") from exc
    except requests.RequestException as exc:
        raise AssistantError("it could not be reached") from exc
    if response.status_code != 200:
        raise AssistantError(f"it answered HTTP {response.status_code}")
    return _message_text(response)


def _message_text(response: requests.Response) -> str:
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except ValueError as exc:
        raise AssistantError("its answer was not valid JSON") from exc
    except (KeyError, IndexError, TypeError) as exc:
        raise AssistantError("its answer held no e-mail") from exc
    if not isinstance(content, str):
        raise AssistantError("its answer held no e-mail")
    return content.replace("\r\n", "\n").strip()


# --- The checks -------------------------------------------------------------------------------------------

def check_rewrite(original: str, rewritten: str, tone: str) -> str:
    """Why `rewritten` may not replace `original` (empty when it may)."""
    if not rewritten.strip():
        return "its answer was empty"
    for check in (_fields_problem, _number_problem, _link_problem, _length_problem):
        problem = check(original, rewritten)
        if problem:
            return problem
    return _phrase_problem(original, rewritten, tone)


def _fields_problem(original: str, rewritten: str) -> str:
    before, after = set(merge_fields_in(original)), set(merge_fields_in(rewritten))
    if missing := sorted(before - after):
        return f"it left out {{{missing[0]}}}"
    if added := sorted(after - before):
        return f"it added {{{added[0]}}}"
    if re.search(r"[{}]", without_merge_fields(rewritten)):
        return "it garbled a merge field"
    return ""


def _numbers(text: str) -> set[str]:
    prose = without_merge_fields(text).lower()
    return set(_NUMBER.findall(prose)) | (set(_WORD.findall(prose)) & NUMBER_WORDS)


def _number_problem(original: str, rewritten: str) -> str:
    added = sorted(_numbers(rewritten) - _numbers(original))
    return f"it added the figure “{added[0]}”" if added else ""


def _link_problem(original: str, rewritten: str) -> str:
    added = set(_LINK.findall(without_merge_fields(rewritten))) - set(_LINK.findall(without_merge_fields(original)))
    return "it added a link or an e-mail address" if added else ""


def _length_problem(original: str, rewritten: str) -> str:
    if len(rewritten) < MIN_RATIO * len(original):
        return "it was too short"
    if len(rewritten) > min(MAX_RATIO * len(original), MAX_CHARS):
        return "it was too long"
    return ""


def _phrase_problem(original: str, rewritten: str, tone: str) -> str:
    banned = BANNED_PHRASES + (() if tone == "firm" else FIRM_ONLY_PHRASES)
    for phrase in banned:
        if _says(rewritten, phrase) and not _says(original, phrase):
            return f"it said “{phrase}”"
    return ""


def _says(text: str, phrase: str) -> bool:
    # Whole words only: "court" is not in "courtesy", nor "sue" in "issue".
    start, end = (r"\b" if phrase[0].isalnum() else ""), (r"\b" if phrase[-1].isalnum() else "")
    return re.search(rf"(?i){start}{re.escape(phrase)}{end}", text) is not None
