"""Answer parsing shared by the answer reward and the evaluation metrics."""

import pytest

from medmo.clinical.answers import answer_type, exact_match, final_answer, parse_choice, parse_yes_no, token_recall


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
    assert final_answer("<think>x</think>  <answer> 12 mm </answer>") == "12 mm"


def test_answer_type():
    assert answer_type("B", OPTIONS) == "multiple_choice"
    assert answer_type("Yes") == "closed"
    assert answer_type("left lower lobe") == "open"


def test_option_letters_are_one_strict_alphabet():
    from medmo.clinical.answers import as_letter, option_letters, reference_choice
    from medmo.clinical.prompts import format_question

    assert (as_letter("B"), as_letter(" c ", 4), as_letter("E", 4)) == ("B", "C", None)
    assert (as_letter("BC"), as_letter("A or B"), as_letter("")) == (None, None, None)  # not letters, and no commitment
    twelve = [f"option {i}" for i in range(12)]  # more than ten options letter on past J
    assert format_question("Which?", twelve).splitlines()[-2] == "L. option 11"
    assert parse_choice("The answer is L.", twelve) == "L" and option_letters(12)[-1] == "L"
    with pytest.raises(ValueError, match="26"):
        option_letters(27)
    # a reference is a letter or exactly one option's text; "BC" is neither
    assert (reference_choice("B", ["x", "y"]), reference_choice("y", ["x", "y"]), reference_choice("BC", ["x", "y", "z"])) == ("B", "B", None)


@pytest.mark.parametrize(
    ("prediction", "reference", "kind", "options"),
    [
        ("Yes, there is.", "yes", "closed", None),
        ("<think>no</think><answer>No</answer>", "yes", "closed", None),
        ("maybe", "yes", "closed", None),
        ("The answer is (B).", "B", "multiple_choice", ["Edema", "Pneumonia"]),
        ("**Pneumonia**", "B", "multiple_choice", ["Edema", "Pneumonia"]),
        ("B", "Pneumonia", "multiple_choice", ["Edema", "Pneumonia"]),  # the reference as option text
        ("A or B", "A", "multiple_choice", ["Edema", "Pneumonia"]),
        ("BC", "BC", "multiple_choice", ["a", "b", "c"]),  # not a letter on either side
        ("<answer>left lung</answer><answer>right lung</answer>", "right lung", "open", None),  # the last answer counts
        ("Yes.", "yes", "open", None),  # PubMedQA-style open yes / no / maybe
    ],
)
def test_reward_and_metric_judge_an_answer_alike(prediction, reference, kind, options):
    from medmo.clinical.answers import answer_correct
    from medmo.evaluation.metrics import is_correct
    from medmo.training.rewards import answer_accuracy_reward

    expected = answer_correct(prediction, reference, kind, options)
    record = {"prediction": prediction, "reference": reference, "kind": kind, "options": options}
    assert is_correct(record) == expected
    assert answer_accuracy_reward([prediction], solution=[reference], options=[options], answer_type=[kind]) == [float(expected)]
