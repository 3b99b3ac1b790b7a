# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Answer accuracy: closed (yes/no), multiple-choice and short open answers, read by `medmo.clinical.answers`."""

from medmo.clinical.answers import answer_type, exact_match, parse_choice, parse_yes_no

from .common import ANSWER_TASKS, applies, column, score_rows


def _reference_choice(solution, options) -> str | None:
    letter = parse_choice(str(solution), options)
    return letter or (str(solution).strip().upper() if str(solution).strip().upper() in "ABCDEFGHIJ" else None)


class AnswerAccuracyReward:
    """Scores the final answer (inside `<answer>` when present) against `solution`: yes/no for closed
    questions, the option letter for multiple choice (`options`: `{letter: text}` or a list; "The
    answer is (B)", "B.", "**B**" and the option's text all count), normalised exact match for open
    answers. The kind comes from an `answer_type` column, else from the row (options -> multiple
    choice; a yes/no solution -> closed). None for rows without a text solution or of another task.

    >>> answer_accuracy_reward(["The answer is (B)."], solution=["B"], options=[["Edema", "Pneumonia"]])
    [1.0]
    """

    __name__ = "answer_accuracy_reward"

    def __call__(self, completions, solution=None, options=None, log_metric=None, **kwargs):
        columns = {"solution": solution, "options": options, **kwargs}

        def score(index: int, text: str):
            reference, choices = column(columns, "solution", index), column(columns, "options", index)
            if not isinstance(reference, str) or not reference.strip() or not applies(columns, index, ANSWER_TASKS):
                return None
            kind = column(columns, "answer_type", index) or answer_type(reference, choices)
            if kind == "multiple_choice":
                predicted = parse_choice(text, choices)
                correct = predicted is not None and predicted == _reference_choice(reference, choices)
            elif kind == "closed":
                predicted = parse_yes_no(text)
                correct = predicted is not None and predicted == parse_yes_no(reference)
            else:
                predicted = text.strip() or None
                correct = exact_match(text, reference)
            return (1.0 if correct else 0.0), predicted is not None

        return score_rows(completions, score, log_metric, "answer_accuracy_reward/parse_rate")


answer_accuracy_reward = AnswerAccuracyReward()

__all__ = ["answer_accuracy_reward"]
