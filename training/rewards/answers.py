# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Answer accuracy: closed (yes/no), multiple-choice and short open answers, judged by
`medmo.clinical.answers.answer_correct`, the rule the evaluation metrics use too."""

from medmo.clinical.answers import answer_correct, answer_type, parse_answer

from .common import applies, column, score_rows


class AnswerAccuracyReward:
    """Scores the final answer (the last `<answer>` block when present) against `solution` with
    `answer_correct`: yes/no for closed questions, the option letter for multiple choice (`options`:
    `{letter: text}` or a list; "The answer is (B)", "B.", "**B**" and the option's text all count,
    and the solution may be the letter or the option's text), normalised exact match for open
    answers. The kind comes from an `answer_type` column (the converters write the record's kind),
    else from the row (options -> multiple choice; a yes/no solution -> closed). None for rows
    without a text solution or of another task.

    >>> answer_accuracy_reward(["The answer is (B)."], solution=["B"], options=[["Edema", "Pneumonia"]])
    [1.0]
    """

    __name__ = "answer_accuracy_reward"

    def __call__(self, completions, solution=None, options=None, log_metric=None, **kwargs):
        columns = {"solution": solution, "options": options, **kwargs}

        def score(index: int, text: str):
            reference, choices = column(columns, "solution", index), column(columns, "options", index)
            if not isinstance(reference, str) or not reference.strip() or not applies(columns, index, "answer"):
                return None
            kind = column(columns, "answer_type", index) or answer_type(reference, choices)
            correct = answer_correct(text, reference, kind, choices)
            return (1.0 if correct else 0.0), parse_answer(text, kind, choices) is not None

        return score_rows(completions, score, log_metric, "answer_accuracy_reward/parse_rate")


answer_accuracy_reward = AnswerAccuracyReward()

__all__ = ["answer_accuracy_reward"]
