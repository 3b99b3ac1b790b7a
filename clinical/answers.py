# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Reading answers out of model text, and the one rule for whether an answer is right.

The answer reward and the evaluation metrics both call `answer_correct`, so training and
evaluation score an answer the same way. The final answer of a completion is `final_answer`
(`medmo.boxes`: the last `<answer>` block, else the text without `<think>`), the same part the box
parser reads. Option letters come from one alphabet (`OPTION_LETTERS`) and are read strictly:
"BC" is not a letter, and "A or B" commits to none.

>>> parse_choice("After weighing the options, the answer is (B).", {"A": "Edema", "B": "Pneumonia"})
'B'
>>> parse_yes_no("Yes, there is a small effusion.")
'yes'
>>> answer_correct("<think>A?</think><answer>(B) Pneumonia</answer>", "B", "multiple_choice", ["Edema", "Pneumonia"])
True
"""

import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence

from medmo.boxes import final_answer

from .tasks import CLOSED, MULTIPLE_CHOICE, OPEN


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans({character: " " for character in string.punctuation})
_YES = {"yes", "yeah", "yep", "true", "present", "positive", "correct"}
_NO = {"no", "nope", "false", "absent", "negative", "incorrect", "none"}
# Options are lettered A, B, C, ... in this order everywhere (prompts, references, parsing).
OPTION_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Without the options, a free letter answer may name one of the first five (MedQA's largest set).
_DEFAULT_LETTERS = OPTION_LETTERS[:5]


def normalize_answer(text: str) -> str:
    """Lower-case, punctuation and articles removed, whitespace collapsed (SQuAD-style)."""
    text = str(text).lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def option_letters(count: int) -> str:
    """The letters of `count` options: "ABCD" for four. More than 26 options is an error."""
    if not 0 <= count <= len(OPTION_LETTERS):
        raise ValueError(f"{count} options: MedMO letters at most {len(OPTION_LETTERS)} (A-Z).")
    return OPTION_LETTERS[:count]


def as_letter(text, count: int | None = None) -> str | None:
    """`text` as an option letter when it is exactly one letter (either case, spaces around
    allowed) of the first `count` options (all 26 when None); else None. "BC", "A or B" and ""
    are not letters.

    >>> as_letter(" c ", 4), as_letter("BC"), as_letter("E", 4)
    ('C', None, None)
    """
    letter = str(text).strip().upper() if text is not None else ""
    valid = OPTION_LETTERS if count is None else option_letters(count)
    return letter if len(letter) == 1 and letter in valid else None


def parse_yes_no(text) -> str | None:
    """`"yes"`, `"no"`, or `None` when the answer commits to neither (or to both)."""
    words = normalize_answer(final_answer(text)).split()
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


def lettered_options(options) -> dict[str, str]:
    """`{letter: text}` of options given as such a mapping or as a list (lettered A, B, ...)."""
    if options is None:
        return {}
    if isinstance(options, Mapping):
        return {str(key).strip().upper(): str(value) for key, value in options.items()}
    if isinstance(options, Sequence) and not isinstance(options, str):
        return dict(zip(option_letters(len(options)), map(str, options)))
    return {}


def parse_choice(text, options=None) -> str | None:
    """The chosen option letter, or `None`.

    Reads "The answer is (B)", "Answer: B", "**B**", "B.", "(B) Pneumonia", a lone "B", and falls
    back to the option text when exactly one option's text appears. `options` is a
    `{letter: text}` mapping or a list (lettered A, B, ...); without it, letters A-E are valid.
    """
    answer = final_answer(text)
    if not answer:
        return None
    lettered = lettered_options(options)
    valid = "".join(lettered) if lettered else _DEFAULT_LETTERS
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


def reference_choice(reference, options) -> str | None:
    """The option letter a multiple-choice reference names: the letter itself (strictly: "B"), or
    the text of exactly one option (normalised); None otherwise."""
    lettered = lettered_options(options)
    letter = as_letter(reference, len(lettered) if lettered else None)
    if letter is not None:
        return letter
    matches = [key for key, value in lettered.items() if normalize_answer(value) == normalize_answer(reference)]
    return matches[0] if len(matches) == 1 else None


def exact_match(prediction, reference) -> bool:
    """Normalised exact match of an open answer."""
    return bool(normalize_answer(reference)) and normalize_answer(final_answer(prediction)) == normalize_answer(reference)


def token_recall(prediction, reference) -> float:
    """Share of the reference's tokens that the answer contains (multiset), in [0, 1]."""
    reference_tokens = Counter(normalize_answer(reference).split())
    if not reference_tokens:
        return 0.0
    predicted = Counter(normalize_answer(final_answer(prediction)).split())
    return sum((reference_tokens & predicted).values()) / sum(reference_tokens.values())


def answer_type(reference, options=None) -> str:
    """The kind of a question from its reference: `"multiple_choice"` with options, `"closed"` for
    a yes/no reference, else `"open"`."""
    if lettered_options(options):
        return MULTIPLE_CHOICE
    return CLOSED if normalize_answer(reference) in ("yes", "no") else OPEN


def parse_answer(prediction, kind: str, options=None) -> str | None:
    """What a completion commits to for a question of `kind`: `"yes"` / `"no"` (closed), an option
    letter (multiple choice) or the final answer's text (open); None when it commits to nothing."""
    if kind == CLOSED:
        return parse_yes_no(prediction)
    if kind == MULTIPLE_CHOICE:
        return parse_choice(prediction, options)
    return final_answer(prediction) or None


def answer_correct(prediction, reference, kind: str, options=None) -> bool:
    """Whether `prediction` answers a question of `kind` whose answer is `reference`.

    Closed: the same yes / no. Multiple choice: the letter the prediction commits to (`parse_choice`:
    letter or option text) is the reference's (`reference_choice`: a letter, or an option's text).
    Open: normalised exact match.
    """
    if kind == CLOSED:
        parsed = parse_yes_no(prediction)
        return parsed is not None and parsed == parse_yes_no(reference)
    if kind == MULTIPLE_CHOICE:
        parsed = parse_choice(prediction, options)
        return parsed is not None and parsed == reference_choice(reference, options)
    return exact_match(prediction, reference)


__all__ = [
    "OPTION_LETTERS",
    "answer_correct",
    "answer_type",
    "as_letter",
    "exact_match",
    "final_answer",
    "lettered_options",
    "normalize_answer",
    "option_letters",
    "parse_answer",
    "parse_choice",
    "parse_yes_no",
    "reference_choice",
    "token_recall",
]
