"""GRPO rewards: hand-computed cases, references, invariances, fuzzing, TRL contract, a real GRPO run."""

import itertools
import math
import pickle
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medmo.boxes import format_boxes
from medmo.training.rewards import (
    REWARDS,
    answer_accuracy_reward,
    box_reward,
    format_reward,
    get_box_reward,
    get_reward_func,
    get_reward_funcs,
    giou_reward,
    label_accuracy_reward,
    report_factuality_reward,
    tag_count_reward,
)


def text(*boxes, label="Nodule"):
    return format_boxes([{"label": label, "box": list(b)} for b in boxes]) if boxes else "No abnormality."


def one(reward, completion, **columns):
    return reward([completion], **{key: [value] for key, value in columns.items()})[0]


PIXELS = get_box_reward(box_format="original_pixels")


class TestBoxReward:
    def test_perfect_single_box(self):
        assert one(PIXELS, text((10, 10, 50, 50)), solution=text((10, 10, 50, 50)), image_size=[100, 100]) == 1.0

    def test_hand_computed_partial_overlap(self):
        # GT [0,0,10,10], pred [0,0,10,20] in 100x100: L1 = 10 / (2 * sqrt(2) * 100) = 0.035355;
        # IoU = 100/200 = GIoU = 0.5; pair = (5 * (1 - 0.035355) + 2 * 0.75) / 7 = 0.903318; R = 0.8160
        reward = one(PIXELS, text((0, 0, 10, 20)), solution=text((0, 0, 10, 10)), image_size=[100, 100])
        assert reward == pytest.approx(((5 * (1 - 10 / (2 * math.hypot(100, 100))) + 2 * 0.75) / 7) ** 2)

    def test_no_truth_and_no_prediction(self):
        # nothing to find, nothing claimed
        assert one(PIXELS, "No abnormality.", solution="No abnormality.", image_size=[100, 100]) == 1.0

    def test_no_truth_but_predictions(self):
        # (1 - 0.25 * P)^2 with the default lambda_fp = 0.25
        assert one(PIXELS, text((1, 1, 5, 5)), solution="", image_size=[100, 100]) == pytest.approx(0.5625)
        five = text(*[(i, i, i + 5, i + 5) for i in range(5)])
        assert one(PIXELS, five, solution="", image_size=[100, 100]) == 0.0

    def test_truth_but_nothing_readable(self):
        assert one(PIXELS, "Probably a nodule somewhere.", solution=text((1, 1, 5, 5)), image_size=[100, 100]) == 0.0

    def test_missed_box(self):
        # G=2, one found perfectly: B = 1/2, penalty = 0.25 * 1 / 2 -> (0.375)^2
        reward = one(PIXELS, text((0, 0, 10, 10)), solution=text((0, 0, 10, 10), (50, 50, 60, 60)), image_size=[100, 100])
        assert reward == pytest.approx(0.375**2)

    def test_extra_box(self):
        # G=1 found perfectly plus one extra: B = 1, penalty = 0.25 -> 0.5625
        reward = one(PIXELS, text((0, 0, 10, 10), (70, 70, 80, 80)), solution=text((0, 0, 10, 10)), image_size=[100, 100])
        assert reward == pytest.approx(0.5625)

    def test_reversed_and_zero_area_boxes_stay_finite(self):
        # corners are put in order; a zero-area box has IoU 0 but a finite score
        assert one(PIXELS, text((50, 50, 10, 10)), solution=text((10, 10, 50, 50)), image_size=[100, 100]) == 1.0
        point = one(PIXELS, text((5, 5, 5, 5)), solution=text((5, 5, 5, 5)), image_size=[100, 100])
        assert math.isfinite(point) and 0 <= point <= 1

    def test_structured_ground_truth_equals_text(self):
        boxes = [{"label": "Nodule", "box": [10, 10, 40, 40]}, [50, 50, 70, 90]]
        completion = text((12, 11, 41, 40), (50, 52, 69, 90))
        as_text = one(PIXELS, completion, solution=format_boxes([{"label": "x", "box": [10, 10, 40, 40]}, {"label": "x", "box": [50, 50, 70, 90]}]), image_size=[100, 100])
        assert one(PIXELS, completion, boxes=boxes, image_size=[100, 100]) == pytest.approx(as_text)

    def test_grid_frame_needs_no_image_size(self):
        grid = get_box_reward(box_format="grid_1000")
        assert one(grid, '{"bbox_2d": [100, 100, 400, 400], "label": "x"}', solution=text((100, 100, 400, 400))) == 1.0

    def test_pixel_frame_without_image_size_names_the_column(self):
        with pytest.raises(ValueError, match="image_size"):
            one(box_reward, text((1, 1, 2, 2)), solution=text((1, 1, 3, 3)))

    def test_rows_of_other_tasks_and_without_truth_are_not_applicable(self):
        rewards = box_reward(
            [text((1, 1, 2, 2))] * 3,
            solution=["yes", None, text((1, 1, 2, 2))],
            task=["vqa", "grounding", "grounding"],
            image_size=[[10, 10]] * 3,
        )
        assert rewards == [None, None, 1.0]

    def test_conversational_completions_and_parse_rate_logging(self):
        logged = []
        rewards = box_reward(
            [[{"role": "assistant", "content": text((1, 1, 5, 5))}], [{"role": "assistant", "content": "unsure"}]],
            solution=[text((1, 1, 5, 5))] * 2,
            image_size=[[10, 10]] * 2,
            log_metric=lambda name, value: logged.append((name, value)),
        )
        assert rewards == [1.0, 0.0] and logged == [("box_reward/parse_rate", 0.5)]

    @pytest.mark.parametrize("bad", [dict(lambda_fn=-1), dict(lambda_fp=float("nan")), dict(w_l1=0, w_giou=0), dict(box_format="yolo")])
    def test_factory_validates_eagerly(self, bad):
        with pytest.raises(ValueError):
            get_box_reward(**bad)

    def test_weights_change_the_score(self):
        completion, solution = text((0, 0, 10, 20)), text((0, 0, 10, 10))
        l1_only = get_box_reward(w_l1=1, w_giou=0, box_format="original_pixels")
        giou_only = get_box_reward(w_l1=0, w_giou=1, box_format="original_pixels")
        assert one(giou_only, completion, solution=solution, image_size=[100, 100]) == pytest.approx(0.75**2)
        assert one(l1_only, completion, solution=solution, image_size=[100, 100]) == pytest.approx((1 - 10 / (2 * math.hypot(100, 100))) ** 2)


def brute_force_box_reward(predicted, target, size, lambda_fn=0.25, lambda_fp=0.25):
    """The paper's reward with the matching found by trying every assignment."""
    diagonal = 2 * math.hypot(*size)

    def terms(p, t):
        l1 = sum(abs(a - b) for a, b in zip(p, t)) / diagonal
        iw, ih = max(0, min(p[2], t[2]) - max(p[0], t[0])), max(0, min(p[3], t[3]) - max(p[1], t[1]))
        union = (p[2] - p[0]) * (p[3] - p[1]) + (t[2] - t[0]) * (t[3] - t[1]) - iw * ih
        hull = (max(p[2], t[2]) - min(p[0], t[0])) * (max(p[3], t[3]) - min(p[1], t[1]))
        giou = (iw * ih / union if union > 0 else 0) - ((hull - union) / hull if hull > 0 else 0)
        return l1, giou

    small, large = (predicted, target) if len(predicted) <= len(target) else (target, predicted)
    best = None
    for chosen in itertools.permutations(range(len(large)), len(small)):
        pairs = [(small[i], large[j]) if small is predicted else (large[j], small[i]) for i, j in enumerate(chosen)]
        cost = sum(5 * l1 + 2 * (1 - g) for l1, g in (terms(p, t) for p, t in pairs))
        if best is None or cost < best[0] - 1e-12:
            best = (cost, pairs)
    score = sum((5 * (1 - min(1, max(0, l1))) + 2 * (g + 1) / 2) / 7 for l1, g in (terms(p, t) for p, t in best[1]))
    matches = len(best[1])
    penalty = (lambda_fn * (len(target) - matches) + lambda_fp * (len(predicted) - matches)) / len(target)
    return min(1, max(0, score / len(target) - penalty)) ** 2


box_lists = st.lists(
    st.tuples(st.integers(0, 90), st.integers(0, 90), st.integers(1, 40), st.integers(1, 40)).map(lambda t: (t[0], t[1], t[0] + t[2], t[1] + t[3])),
    min_size=1,
    max_size=6,
)


class TestMatching:
    @settings(max_examples=150, deadline=None)
    @given(box_lists, box_lists)
    def test_hungarian_equals_brute_force(self, predicted, target):
        reward = one(PIXELS, text(*predicted), solution=text(*target), image_size=[130, 130])
        assert reward == pytest.approx(brute_force_box_reward(predicted, target, (130, 130)), abs=1e-9)

    @settings(max_examples=60, deadline=None)
    @given(box_lists, box_lists, st.randoms(use_true_random=False))
    def test_box_order_does_not_matter(self, predicted, target, rng):
        shuffled_p, shuffled_t = predicted[:], target[:]
        rng.shuffle(shuffled_p), rng.shuffle(shuffled_t)
        base = one(PIXELS, text(*predicted), solution=text(*target), image_size=[130, 130])
        assert one(PIXELS, text(*shuffled_p), solution=text(*shuffled_t), image_size=[130, 130]) == pytest.approx(base, abs=1e-9)

    @settings(max_examples=60, deadline=None)
    @given(box_lists, box_lists, st.sampled_from([2, 3, 7]))
    def test_scaling_both_frames_does_not_matter(self, predicted, target, factor):
        base = one(PIXELS, text(*predicted), solution=text(*target), image_size=[130, 130])
        scale = lambda boxes: [tuple(v * factor for v in box) for box in boxes]  # noqa: E731
        scaled = one(PIXELS, text(*scale(predicted)), solution=text(*scale(target)), image_size=[130 * factor, 130 * factor])
        assert scaled == pytest.approx(base, abs=1e-9)


def reference_giou(p, t):
    iw, ih = max(0, min(p[2], t[2]) - max(p[0], t[0])), max(0, min(p[3], t[3]) - max(p[1], t[1]))
    union = (p[2] - p[0]) * (p[3] - p[1]) + (t[2] - t[0]) * (t[3] - t[1]) - iw * ih
    hull = (max(p[2], t[2]) - min(p[0], t[0])) * (max(p[3], t[3]) - min(p[1], t[1]))
    return iw * ih / union - (hull - union) / hull


class TestGIoUReward:
    def test_hand_computed(self):
        # one exact match (GIoU 1) and one pair with GIoU 1/3 (2x2 squares sharing a 1x2 strip) -> (1 + 2/3) / 2
        reward = one(giou_reward, text((0, 0, 2, 2), (10, 0, 12, 2)), solution=text((0, 0, 2, 2), (11, 0, 13, 2)))
        assert reward == pytest.approx((1.0 + (1 / 3 + 1) / 2) / 2)

    def test_empty_cases(self):
        assert one(giou_reward, "none", solution="none") == 1.0
        assert one(giou_reward, text((0, 0, 1, 1)), solution="none") == 0.0
        assert one(giou_reward, "none", solution=text((0, 0, 1, 1))) == 0.0

    @settings(max_examples=100, deadline=None)
    @given(box_lists, box_lists)
    def test_matches_brute_force_over_the_independent_reference(self, predicted, target):
        small, large = (predicted, target) if len(predicted) <= len(target) else (target, predicted)
        best = max(
            sum((reference_giou(*((small[i], large[j]) if small is predicted else (large[j], small[i]))) + 1) / 2 for i, j in enumerate(chosen))
            for chosen in itertools.permutations(range(len(large)), len(small))
        )
        reward = one(giou_reward, text(*predicted), solution=text(*target))
        assert reward == pytest.approx(best / max(len(predicted), len(target)), abs=1e-9)


class TestLabelAccuracy:
    def test_synonyms_case_and_plurals(self):
        # predicted {Nodule}, truth {Nodule, Mass}: F1 = 2 * 1 / (1 + 2)
        assert one(label_accuracy_reward, "Nodule <box>[[1, 2, 3, 4]]</box>", labels=["nodules", "Mass"]) == pytest.approx(2 / 3)

    def test_labels_from_the_answer_text(self):
        assert one(label_accuracy_reward, "<answer>There is a left pleural effusion.</answer>", labels=["effusion"]) == 1.0

    def test_labels_from_grounding_targets(self):
        assert one(label_accuracy_reward, "Mass <box>[[1, 2, 3, 4]]</box>", solution=text((1, 2, 3, 4), label="Mass"), task="grounding") == 1.0

    def test_rows_without_labels_are_not_applicable(self):
        assert one(label_accuracy_reward, "Nodule", labels=[]) is None
        assert one(label_accuracy_reward, "Nodule", solution="yes", task="vqa") is None


class TestReportFactuality:
    def test_same_findings(self):
        assert one(report_factuality_reward, "Small left pleural effusion. No pneumothorax.", report="Left pleural effusion. No pneumothorax.") == 1.0

    def test_contradiction(self):
        # asserted vs denied: F1 0 - 1/1 contradicted
        assert one(report_factuality_reward, "Left pleural effusion.", report="No pleural effusion.") == -1.0

    def test_partial(self):
        # positives {PE, PTX} vs {PE}: F1 2/3; PTX contradicted among 2 mentioned: 2/3 - 1/2
        score = one(report_factuality_reward, "Pleural effusion. Pneumothorax.", report="Pleural effusion. No pneumothorax.")
        assert score == pytest.approx(2 / 3 - 1 / 2)

    def test_two_normal_reports_agree(self):
        assert one(report_factuality_reward, "No acute cardiopulmonary process.", report="Normal chest radiograph.") == 1.0

    def test_label_column_references(self):
        assert one(report_factuality_reward, "Cardiomegaly.", labels=["Cardiomegaly"]) == 1.0
        assert one(report_factuality_reward, "Cardiomegaly.", labels={"Cardiomegaly": "negative"}) == -1.0

    def test_no_reference(self):
        assert one(report_factuality_reward, "Cardiomegaly.", report="") is None


class TestAnswerAccuracy:
    @pytest.mark.parametrize(
        ("completion", "solution", "options", "expected"),
        [
            ("Yes, there is.", "yes", None, 1.0),  # closed
            ("<think>hmm</think><answer>No</answer>", "yes", None, 0.0),
            ("The answer is (B).", "B", ["Edema", "Pneumonia"], 1.0),  # multiple choice, letter
            ("**Pneumonia**", "B", ["Edema", "Pneumonia"], 1.0),  # option text
            ("B", "Pneumonia", ["Edema", "Pneumonia"], 1.0),  # reference given as option text
            ("The left lung.", "left lung", None, 1.0),  # open, normalised
            ("right lung", "left lung", None, 0.0),
        ],
    )
    def test_cases(self, completion, solution, options, expected):
        assert one(answer_accuracy_reward, completion, solution=solution, options=options) == expected

    def test_not_applicable(self):
        assert one(answer_accuracy_reward, "yes", solution=None) is None
        assert one(answer_accuracy_reward, "yes", solution="yes", task="grounding") is None


class TestFormats:
    @pytest.mark.parametrize(
        ("completion", "expected"),
        [
            ("<think>reasoning</think><answer>yes</answer>", 1.0),
            ("<think>a</think>\n<answer>\nNodule <box>[[1, 2, 3, 4]]</box>\n</answer>", 1.0),
            ("<think>a</think><answer> </answer>", 0.0),  # empty answer
            ("<think>a</think><answer>x</answer><answer>y</answer>", 0.0),  # two answers
            ("<answer>x</answer><think>a</think>", 0.0),  # wrong order
            ("yes", 0.0),
        ],
    )
    def test_format_reward(self, completion, expected):
        assert format_reward([completion]) == [expected]

    def test_tag_count_gives_partial_credit(self):
        assert tag_count_reward(["<think>a</think> yes", "<think></think><answer>a</answer>"]) == [0.5, 1.0]


class TestRegistry:
    def test_names_resolve_with_parameters(self):
        box, soft = get_reward_funcs(["box", "soft_overlong"], {"box": {"lambda_fp": 0.5}, "soft_overlong": {"max_completion_len": 10, "soft_punish_cache": 5}})
        assert box.lambda_fp == 0.5 and soft(completion_ids=[[1] * 8]) == [pytest.approx(-0.6)]

    def test_unknown_name_lists_the_valid_ones(self):
        with pytest.raises(ValueError, match="box.*label_accuracy.*report_factuality"):
            get_reward_funcs(["iou_please"])

    def test_dotted_import_paths(self):
        assert get_reward_func("medmo.training.rewards.format_reward") is format_reward
        assert get_reward_func("medmo.training.rewards:format_reward") is format_reward
        with pytest.raises(ValueError, match="importable"):
            get_reward_func("medmo.training.rewards.nothing_here")

    def test_bad_parameters(self):
        with pytest.raises(ValueError, match="takes no parameters"):
            get_reward_funcs(["format"], {"format": {"strict": True}})
        with pytest.raises(ValueError, match="not used"):
            get_reward_funcs(["box"], {"giou": {}})
        with pytest.raises(ValueError, match="Bad parameters"):
            get_reward_funcs(["box"], {"box": {"lambda_tp": 1}})

    @pytest.mark.parametrize("name", [name for name in REWARDS if name != "soft_overlong"] + ["soft_overlong"])
    def test_every_reward_is_picklable_and_named(self, name):
        kwargs = {"max_completion_len": 10, "soft_punish_cache": 2} if name == "soft_overlong" else {}
        reward = get_reward_func(name, **kwargs)
        restored = pickle.loads(pickle.dumps(reward))
        assert restored.__name__ == reward.__name__ and restored.__name__.endswith("reward")


RANGES = {
    "box": (0.0, 1.0), "giou": (0.0, 1.0), "label_accuracy": (0.0, 1.0), "report_factuality": (-1.0, 1.0),
    "answer_accuracy": (0.0, 1.0), "format": (0.0, 1.0), "tag_count": (0.0, 1.0),
}  # fmt: skip
COLUMNS = {
    "solution": "Nodule <box>[[10, 10, 50, 50]]</box>", "image_size": [100, 100], "labels": ["Nodule"],
    "report": "Small left pleural effusion. No pneumothorax.", "options": ["Edema", "Nodule"],
}  # fmt: skip


def nasty_strings():
    rng = random.Random(0)
    yield "9" * 10_000
    yield "<box>" * 3000 + "[1,2,3,4]" * 500
    yield "<think><answer><think><answer>" * 500
    yield "[" * 5000 + "]" * 5000
    yield "{" + '"bbox_2d": [1e308, 1e308, -1e308, 1e309], "label": "x"' + "}"
    yield "\x00\ud800" + "".join(chr(rng.randrange(0x110000)) for _ in range(2000))  # any code point, lone surrogates too
    yield bytes(rng.randrange(256) for _ in range(4000)).decode("latin-1")


@pytest.mark.parametrize("name", sorted(RANGES))
def test_fuzz_every_reward_returns_finite_values_in_range(name):
    reward = get_reward_func(name, **({"box_format": "original_pixels"} if name == "box" else {}))
    strings = list(nasty_strings())

    @settings(max_examples=150, deadline=None)
    @given(st.text(max_size=500) | st.sampled_from(strings))
    def check(completion):
        [value] = reward([completion], **{key: [value] for key, value in COLUMNS.items()})
        low, high = RANGES[name]
        assert value is None or (math.isfinite(value) and low <= value <= high)

    check()


def test_two_grpo_steps_on_a_tiny_medmo_with_registry_rewards(tiny_dir, tmp_path):
    import numpy as np
    import transformers
    from datasets import Dataset
    from PIL import Image
    from trl import GRPOConfig, GRPOTrainer

    model = transformers.AutoModelForImageTextToText.from_pretrained(tiny_dir)
    processor = transformers.AutoProcessor.from_pretrained(tiny_dir)
    rng = np.random.default_rng(0)
    prompt = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Detect the nodule."}]}]
    rows = [
        {"image": Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)), "prompt": prompt,
         "solution": "Nodule <box>[[10, 10, 30, 30]]</box>", "image_size": [64, 64], "task": "grounding", "labels": ["Nodule"]}
        for _ in range(4)
    ]  # fmt: skip
    # A random model scores 0 on every real reward; the variety reward (loaded by dotted path) gives
    # GRPO the variance it needs for a non-zero gradient.
    names = ["box", "label_accuracy", "format", "tag_count", "reward_helpers.character_variety_reward"]
    config = GRPOConfig(
        output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=4, num_generations=2, max_completion_length=8,
        logging_steps=1, report_to="none", use_cpu=True, save_strategy="no", seed=0,
    )  # fmt: skip
    trainer = GRPOTrainer(model=model, processing_class=processor, reward_funcs=get_reward_funcs(names), args=config, train_dataset=Dataset.from_list(rows))
    trainer.train()
    steps = [entry for entry in trainer.state.log_history if "grad_norm" in entry]
    assert len(steps) == 2 and all(entry["grad_norm"] > 0 for entry in steps)
    for reward in ("box_reward", "label_accuracy_reward", "format_reward", "tag_count_reward", "character_variety_reward"):
        assert f"rewards/{reward}/mean" in steps[0]
    assert "box_reward/parse_rate" in steps[0]  # logged through TRL's log_metric
