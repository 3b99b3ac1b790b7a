# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Reading answers out of model text: the final answer, yes/no, multiple choice, open answers.

Shared by the answer reward and the evaluation metrics, so training and evaluation score an
answer the same way.

>>> parse_choice("After weighing the options, the answer is (B).", {"A": "Edema", "B": "Pneumonia"})
'B'
>>> parse_yes_no("Yes, there is a small effusion.")
'yes'
"""

import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence


_ANSWER_BLOCK = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.DOTALL | re.IGNORECASE)
_THINK_BLOCK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans({character: " " for character in string.punctuation})
_YES = {"yes", "yeah", "yep", "true", "present", "positive", "correct"}
_NO = {"no", "nope", "false", "absent", "negative", "incorrect", "none"}
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def extract_answer(text) -> str:
    """The final answer in a completion: the last `<answer>` block if any, else the text without
    `<think>` blocks, stripped. Non-strings give `""`."""
    if not isinstance(text, str):
        return ""
    blocks = _ANSWER_BLOCK.findall(text)
    answer = blocks[-1] if blocks else _THINK_BLOCK.sub(" ", text)
    return answer.strip()


def normalize_answer(text: str) -> str:
    """Lower-case, punctuation and articles removed, whitespace collapsed (SQuAD-style)."""
    text = str(text).lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def parse_yes_no(text) -> str | None:
    """`"yes"`, `"no"`, or `None` when the answer commits to neither (or to both)."""
    words = normalize_answer(extract_answer(text)).split()
    if not words:
        return None
    if words[0] in _YES:
        return "yes"
    if words[0] in _NO:
        return "no"
    stated = re.search(r"\banswer(?: is)? (yes|no)\b", " ".join(words))
    if stated:
        return stated.group(1)
    present = {word for word in words if word in ("yes", "no")}
    return present.pop() if len(present) == 1 else None


def _option_letters(options) -> dict[str, str]:
    if options is None:
        return {}
    if isinstance(options, Mapping):
        return {str(key).strip().upper(): str(value) for key, value in options.items()}
    if isinstance(options, Sequence) and not isinstance(options, str):
        return {_LETTERS[index]: str(value) for index, value in enumerate(options[: len(_LETTERS)])}
    return {}


def parse_choice(text, options=None) -> str | None:
    """The chosen option letter, or `None`.

    Reads "The answer is (B)", "Answer: B", "**B**", "B.", "(B) Pneumonia", a lone "B", and falls
    back to the option text when exactly one option's text appears. `options` is a
    `{letter: text}` mapping or a list (lettered A, B, ...); without it, letters A-E are valid.
    """
    answer = extract_answer(text)
    if not answer:
        return None
    lettered = _option_letters(options)
    valid = "".join(lettered) if lettered else "ABCDE"
    letter = rf"([{re.escape(valid)}])"
    patterns = [  # most explicit first; a pattern counts only when it names a single letter
        rf"(?i:answer)\s*(?:(?i:is)|:)?\s*(?:(?i:option)\s*)?[\(\[\*]*{letter}[\)\]\*]*(?![A-Za-z])",
        rf"\*\*\s*\(?{letter}\)?\s*[\.\):]?\s*\*\*",
        rf"^\s*[\(\[]?{letter}[\)\]]?\s*(?:[\.\):,]|$)",
        rf"[\(\[]{letter}[\)\]]",
    ]
    for pattern in patterns:
        matches = {m.group(1).upper() for m in re.finditer(pattern, answer)}
        if len(matches) == 1:
            return matches.pop()
    if lettered:
        normalized = normalize_answer(answer)
        hits = [key for key, value in lettered.items() if normalize_answer(value) and normalize_answer(value) in normalized]
        if len(hits) == 1:
            return hits[0]
        exact = [key for key, value in lettered.items() if normalize_answer(value) == normalized]
        if len(exact) == 1:
            return exact[0]
    return None


def exact_match(prediction, reference) -> bool:
    """Normalised exact match of an open answer."""
    return bool(normalize_answer(reference)) and normalize_answer(extract_answer(prediction)) == normalize_answer(reference)


def token_recall(prediction, reference) -> float:
    """Share of the reference's tokens that the answer contains (multiset), in [0, 1]."""
    reference_tokens = Counter(normalize_answer(reference).split())
    if not reference_tokens:
        return 0.0
    predicted = Counter(normalize_answer(extract_answer(prediction)).split())
    return sum((reference_tokens & predicted).values()) / sum(reference_tokens.values())


def answer_type(reference, options=None) -> str:
    """`"multiple_choice"` with options, `"closed"` for a yes/no reference, else `"open"`."""
    if _option_letters(options):
        return "multiple_choice"
    return "closed" if normalize_answer(reference) in ("yes", "no") else "open"


__all__ = ["answer_type", "exact_match", "extract_answer", "normalize_answer", "parse_choice", "parse_yes_no", "token_recall"]
