"""The box module: every text format parses, frames convert both ways, geometry matches references."""

import math

import numpy as np
import pytest
from helpers import random_image
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medmo.boxes import (
    as_array,
    convert_boxes,
    cxcywh_to_xyxy,
    decimals_for_frame,
    draw_boxes,
    final_answer,
    format_boxes,
    frame_size,
    pairwise_giou,
    pairwise_iou,
    pairwise_l1,
    parse_boxes,
    polygon_to_xyxy,
    resize_boxes,
    xywh_to_xyxy,
    xyxy_to_xywh,
)


pytestmark = pytest.mark.compat


def boxes_of(text):
    return [(item["label"], item["box"]) for item in parse_boxes(text)]


class TestParse:
    def test_medmo_readme_format_with_several_boxes(self):
        # the format shown in MedMO's README: one label, a list of boxes
        assert boxes_of("Fractures <box>[[156, 516, 231, 607], [240, 529, 296, 581]]</box>") == [
            ("Fractures", [156, 516, 231, 607]),
            ("Fractures", [240, 529, 296, 581]),
        ]

    def test_grpo_answer_format(self):
        # the authors' GRPO data: bare numbers inside <box>, one finding per line, in <answer>
        text = "<answer>\nNodule: <box> 12, 40, 80, 96 </box>\nPleural effusion: <box> 1.5, 2, 3.25, 4 </box>\n</answer>"
        assert boxes_of(text) == [("Nodule", [12, 40, 80, 96]), ("Pleural effusion", [1.5, 2, 3.25, 4])]

    def test_sft_bracket_format(self):
        # the authors' SFT data: `Label: [ [x1, y1, x2, y2] ]`, several per line allowed
        text = "Cardiomegaly: [ [10, 20, 30, 40] ]\nEffusion: [[1, 2, 3, 4], [5, 6, 7, 8]]"
        assert boxes_of(text) == [
            ("Cardiomegaly", [10, 20, 30, 40]),
            ("Effusion", [1, 2, 3, 4]),
            ("Effusion", [5, 6, 7, 8]),
        ]

    def test_qwen3vl_json_in_a_code_fence(self):
        # Qwen3-VL's native grounding output
        text = '```json\n[\n  {"bbox_2d": [100, 200, 300, 400], "label": "nodule"},\n  {"bbox_2d": [1, 2, 3, 4], "label": "mass"}\n]\n```'
        assert boxes_of(text) == [("nodule", [100, 200, 300, 400]), ("mass", [1, 2, 3, 4])]

    def test_single_json_object_without_label(self):
        assert boxes_of('{"bbox_2d": [1, 2, 3, 4]}') == [(None, [1, 2, 3, 4])]

    def test_json_with_single_quotes_falls_back_to_patterns(self):
        # not valid JSON, yet the box and label are still there
        assert boxes_of("""{"bbox_2d": [5, 6, 7, 8], "label": "mass", 'x': 1}""") == [("mass", [5, 6, 7, 8])]

    def test_think_block_is_ignored_when_there_is_an_answer(self):
        # boxes the model considered while thinking are not its answer
        text = "<think>maybe [1, 2, 3, 4]?</think><answer>Nodule <box>[[5, 6, 7, 8]]</box></answer>"
        assert boxes_of(text) == [("Nodule", [5, 6, 7, 8])]

    def test_only_the_last_answer_block_is_the_answer(self):
        # a completion that answers twice means its last answer: boxes of earlier blocks are not read
        text = "<answer>Nodule <box>[[1, 2, 3, 4]]</box></answer> On reflection: <answer>Mass <box>[[5, 6, 7, 8]]</box></answer>"
        assert boxes_of(text) == [("Mass", [5, 6, 7, 8])]
        assert final_answer(text) == "Mass <box>[[5, 6, 7, 8]]</box>"
        # an unclosed last block runs to the end of the text
        assert final_answer("<answer>A</answer><answer> B") == "B" and final_answer(None) == ""

    def test_think_block_is_ignored_without_an_answer_tag(self):
        assert boxes_of("<think>[1, 2, 3, 4]</think> Mass <box>[[5, 6, 7, 8]]</box>") == [("Mass", [5, 6, 7, 8])]

    def test_several_labels_on_one_line(self):
        assert boxes_of("Nodule <box>[[1, 2, 3, 4]]</box>, Mass <box>[[5, 6, 7, 8]]</box>") == [
            ("Nodule", [1, 2, 3, 4]),
            ("Mass", [5, 6, 7, 8]),
        ]

    def test_markdown_bold_label_and_reversed_corners(self):
        # corners come back ordered: x1 <= x2, y1 <= y2
        assert boxes_of("**Pneumothorax**: <box>[[30, 20, 10, 5]]</box>") == [("Pneumothorax", [10, 5, 30, 20])]

    def test_floats_and_exponents(self):
        assert boxes_of("Lesion: <box> 1e2, 2.5E1, 300.75, .5e3 </box>") == [("Lesion", [100, 25, 300.75, 500])]

    @pytest.mark.parametrize(
        "text",
        [
            "",  # empty
            "No acute cardiopulmonary process.",  # no boxes
            "<box>[[1, 2, 3]]</box>",  # three numbers
            "[1e999, 2, 3, 4]",  # overflow to infinity
            "<box>nan, 1, 2, 3</box>",  # not a number
            '{"bbox_2d": [1, 2, 3], "label": "x"}',  # short JSON box
            "<answer></answer>",  # empty answer
        ],
    )
    def test_unreadable_text_gives_no_boxes(self, text):
        assert parse_boxes(text) == []

    @pytest.mark.parametrize("value", [None, 12, b"[1, 2, 3, 4]", ["[1,2,3,4]"]])
    def test_non_string_input_gives_no_boxes(self, value):
        assert parse_boxes(value) == []

    @settings(max_examples=300, deadline=None)
    @given(st.text(max_size=400))
    def test_any_string_parses_without_raising(self, text):
        for item in parse_boxes(text):
            x1, y1, x2, y2 = item["box"]
            assert all(math.isfinite(v) for v in item["box"]) and x1 <= x2 and y1 <= y2

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.sampled_from(["<box>", "</box>", "[", "]", ",", "1", "9" * 40, "{", "}", '"bbox_2d":', "<answer>", "<think>", " ", "\n", "-", "."]), max_size=300))
    def test_box_like_junk_parses_without_raising(self, pieces):
        assert isinstance(parse_boxes("".join(pieces)), list)


class TestFrames:
    def test_model_pixels_to_original(self):
        # a 1000x500 image shown to the model at 500x250: coordinates double
        out = convert_boxes([[10, 20, 30, 40]], "model_pixels", "original_pixels", (1000, 500), model_size=(500, 250))
        assert out.tolist() == [[20, 40, 60, 80]]

    def test_grid_to_original(self):
        out = convert_boxes([[100, 500, 1000, 1000]], "grid_1000", "original_pixels", (640, 480))
        assert out.tolist() == [[64, 240, 640, 480]]

    def test_clipping_to_the_target_frame(self):
        out = convert_boxes([[-5, -5, 2000, 300]], "original_pixels", "original_pixels", (100, 200))
        assert out.tolist() == [[0, 0, 100, 200]]

    def test_unknown_frame_and_missing_model_size_are_refused(self):
        with pytest.raises(ValueError, match="Unknown box frame"):
            convert_boxes([[0, 0, 1, 1]], "normalized", "original_pixels", (10, 10))
        with pytest.raises(ValueError, match="model_size"):
            convert_boxes([[0, 0, 1, 1]], "model_pixels", "original_pixels", (10, 10))
        with pytest.raises(ValueError, match="positive"):
            convert_boxes([[0, 0, 1, 1]], "grid_1000", "original_pixels", (0, 10))

    def test_frame_sizes(self, tokenizer):
        from medmo.tiny import build_processor

        processor = build_processor(tokenizer, min_pixels=32 * 32, max_pixels=128 * 128)
        assert frame_size("original_pixels", (640, 480)) == (640.0, 480.0)
        assert frame_size("grid_1000", (640, 480)) == (1000.0, 1000.0)
        assert frame_size("model_pixels", (640, 480), model_size=(128, 96)) == (128.0, 96.0)
        # the resize the image processor does, computed when it is given instead of the size
        expected = processor.model_input_size((640, 480))
        assert frame_size("model_pixels", (640, 480), image_processor=processor.image_processor) == expected
        assert processor.frame_size((640, 480)) == expected and processor.frame_size((640, 480), "grid_1000") == (1000.0, 1000.0)

    def test_resize_scales_x_and_y_separately(self):
        # a 200x100 image drawn at 400x400: x doubles, y quadruples
        assert resize_boxes([[10, 10, 50, 20]], (200, 100), (400, 400)).tolist() == [[20, 40, 100, 80]]

    @settings(max_examples=200, deadline=None)
    @given(
        st.floats(1, 8000), st.floats(1, 8000), st.floats(1, 3000), st.floats(1, 3000),
        st.lists(st.floats(0, 1), min_size=4, max_size=4),
        st.sampled_from(["model_pixels", "grid_1000"]),
    )  # fmt: skip
    def test_round_trip_through_any_frame(self, width, height, model_w, model_h, fractions, frame):
        box = np.array([fractions[0] * width, fractions[1] * height, fractions[2] * width, fractions[3] * height])
        sizes = dict(image_size=(width, height), model_size=(model_w, model_h))
        there = convert_boxes(box, "original_pixels", frame, **sizes)
        back = convert_boxes(there, frame, "original_pixels", **sizes)
        np.testing.assert_allclose(back[0], box, rtol=1e-9, atol=1e-6)

    @pytest.mark.parametrize(
        ("frame", "image_size", "model_size", "expected"),
        [
            ("grid_1000", (1500, 900), None, 0),  # 1.5 px per unit: integers are within 1 px
            ("grid_1000", (4000, 3000), None, 1),  # 4 px per unit: one decimal needed
            ("model_pixels", (2000, 1800), (768, 704), 1),  # 2.6 px per unit
            ("model_pixels", (300, 200), (320, 224), 0),  # upscaled
        ],
    )
    def test_decimals_keep_one_pixel(self, frame, image_size, model_size, expected):
        assert decimals_for_frame(frame, image_size, model_size) == expected


class TestNotations:
    def test_xywh_both_ways(self):
        assert xywh_to_xyxy([100.5, 200.25, 50, 60]) == [100.5, 200.25, 150.5, 260.25]
        assert xyxy_to_xywh([100.5, 200.25, 150.5, 260.25]) == [100.5, 200.25, 50, 60]

    def test_yolo_centre_boxes_and_polygons_in_pixels(self):
        # a 200x100 image; centre (0.5, 0.5), size (0.2, 0.4) of it
        assert cxcywh_to_xyxy([0.5, 0.5, 0.2, 0.4], (200, 100)) == pytest.approx([80, 30, 120, 70])
        assert cxcywh_to_xyxy([5, 5, 2, 4]) == [4, 3, 6, 7]
        # a triangle: the tightest box around its three points
        assert polygon_to_xyxy([0.1, 0.1, 0.3, 0.1, 0.2, 0.3], (200, 100)) == pytest.approx([20, 10, 60, 30])
        with pytest.raises(ValueError, match="3"):
            polygon_to_xyxy([0.1, 0.1, 0.3, 0.1])


class TestFormat:
    def test_medmo_style_groups_one_label(self):
        items = [{"label": "Fractures", "box": [156, 516, 231, 607]}, {"label": "Fractures", "box": [240, 529, 296, 581]}]
        assert format_boxes(items) == "Fractures <box>[[156, 516, 231, 607], [240, 529, 296, 581]]</box>"

    @pytest.mark.parametrize("style", ["medmo", "answer", "qwen_json"])
    def test_every_style_parses_back(self, style):
        items = [{"label": "Nodule", "box": [1.5, 2.25, 30.0, 40.0]}, {"label": "Mass", "box": [5, 6, 7, 8]}]
        assert parse_boxes(format_boxes(items, style=style, decimals=2)) == [
            {"label": "Nodule", "box": [1.5, 2.25, 30.0, 40.0]},
            {"label": "Mass", "box": [5.0, 6.0, 7.0, 8.0]},
        ]

    def test_unknown_style_is_refused(self):
        with pytest.raises(ValueError, match="style"):
            format_boxes([], style="yolo")


def reference_iou(a, b):
    """Scalar IoU written independently of the module."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def reference_giou(a, b):
    hull = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter_w * inter_h
    return reference_iou(a, b) - ((hull - union) / hull if hull > 0 else 0.0)


box_strategy = st.tuples(st.floats(0, 100), st.floats(0, 100), st.floats(0.1, 50), st.floats(0.1, 50)).map(
    lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]]
)


class TestGeometry:
    def test_hand_computed_iou_and_giou(self):
        # two 2x2 squares overlapping in a 1x2 strip: IoU 2/6; hull 3x2 = union -> GIoU = IoU
        a, b = [0, 0, 2, 2], [1, 0, 3, 2]
        assert pairwise_iou([a], [b])[0, 0] == pytest.approx(2 / 6)
        assert pairwise_giou([a], [b])[0, 0] == pytest.approx(2 / 6)
        # disjoint unit squares 1 apart: IoU 0, hull 3x1 = 3, union 2 -> GIoU = -1/3
        assert pairwise_giou([[0, 0, 1, 1]], [[2, 0, 3, 1]])[0, 0] == pytest.approx(-1 / 3)

    def test_zero_area_boxes_never_give_nan(self):
        iou = pairwise_iou([[5, 5, 5, 5]], [[5, 5, 5, 5], [0, 0, 10, 10]])
        giou = pairwise_giou([[5, 5, 5, 5]], [[5, 5, 5, 5]])
        assert np.isfinite(iou).all() and np.isfinite(giou).all()

    @settings(max_examples=200, deadline=None)
    @given(st.lists(box_strategy, min_size=1, max_size=5), st.lists(box_strategy, min_size=1, max_size=5))
    def test_pairwise_matrices_match_the_scalar_references(self, predicted, target):
        iou, giou = pairwise_iou(predicted, target), pairwise_giou(predicted, target)
        for i, p in enumerate(predicted):
            for j, t in enumerate(target):
                assert iou[i, j] == pytest.approx(reference_iou(p, t), abs=1e-9)
                assert giou[i, j] == pytest.approx(reference_giou(p, t), abs=1e-9)
                assert -1.0 - 1e-9 <= giou[i, j] <= iou[i, j] + 1e-12

    def test_normalised_l1(self):
        # corners off by 3+4+3+4 = 14 px in a 30x40 image (diagonal 50): 14 / 100
        assert pairwise_l1([[3, 4, 13, 14]], [[0, 0, 10, 10]], (30, 40))[0, 0] == pytest.approx(0.14)

    def test_as_array_accepts_parsed_items_and_quads(self):
        assert as_array([{"label": "a", "box": [1, 2, 3, 4]}]).tolist() == as_array([[1, 2, 3, 4]]).tolist()
        assert as_array([]).shape == (0, 4)


def test_draw_boxes_colours_labels_and_keeps_the_input():
    image = random_image(200, 120).convert("L")
    boxes = [{"label": "nodule", "box": [20, 30, 80, 90]}, {"label": "mass", "box": [100, 10, 180, 60]}]
    drawn = draw_boxes(image, boxes)
    assert drawn.size == image.size and drawn.mode == "RGB" and image.mode == "L"
    pixels = np.asarray(drawn)
    assert tuple(pixels[60, 20]) != tuple(pixels[35, 100])  # two labels, two colours on the left edges
    assert (np.asarray(image.convert("RGB")) != pixels).any()
