"""Answer parsing shared by the answer reward and the evaluation metrics."""

import pytest

from medmo.clinical.answers import answer_type, exact_match, extract_answer, parse_choice, parse_yes_no, token_recall


OPTIONS = {"A": "Edema", "B": "Pneumonia", "C": "Pneumothorax", "D": "Normal"}


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("The answer is (B).", "B"),  # stated, in brackets
        ("Answer: C", "C"),  # "Answer:" prefix
        ("**D**", "D"),  # markdown bold
        ("B.", "B"),  # a lone letter with a full stop
        ("(A) Edema", "A"),  # lettered option text
        ("I think it is pneumothorax.", "C"),  # option text only
        ("<think>A or B?</think><answer>B</answer>", "B"),  # the answer block, not the thinking
        ("The answer is a nodule.", None),  # the article "a" is not option A
        ("A small effusion is seen.", None),  # a sentence starting with "A"
        ("Either (A) or (B).", None),  # two letters: no commitment
        ("", None),
    ],
)
def test_parse_choice(text, letter):
    assert parse_choice(text, OPTIONS) == letter


def test_parse_choice_with_a_list_of_options_and_without_options():
    assert parse_choice("pneumonia", ["Edema", "Pneumonia"]) == "B"
    assert parse_choice("The answer is E.") == "E"


@pytest.mark.parametrize(
    ("text", "answer"),
    [("Yes.", "yes"), ("No, there is none.", "no"), ("The answer is no.", "no"), ("Possibly.", None), ("<answer>yes</answer>", "yes"), (None, None)],
)
def test_parse_yes_no(text, answer):
    assert parse_yes_no(text) == answer


def test_open_answers():
    assert exact_match("The Left lung.", "left lung")
    assert not exact_match("right lung", "left lung")
    assert token_recall("left upper lobe", "the left lobe") == 1.0
    assert token_recall("right", "left lobe") == 0.0
    assert extract_answer("<think>x</think>  <answer> 12 mm </answer>") == "12 mm"


def test_answer_type():
    assert answer_type("B", OPTIONS) == "multiple_choice"
    assert answer_type("Yes") == "closed"
    assert answer_type("left lower lobe") == "open"
