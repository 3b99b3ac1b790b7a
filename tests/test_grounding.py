"""Grounded outputs: boxes in model text map back to the original image's pixels, and back again."""

from pathlib import Path

import numpy as np
import pytest
import skimage
from helpers import chat_inputs, random_image
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from pydicom.data import get_testdata_file
from scipy import ndimage

from medmo import MedMOProcessor
from medmo.boxes import convert_boxes
from medmo.tiny import build_processor


# The published checkpoints' image settings at stage 2 (up to 1280x1280 pixels).
MIN_PIXELS, MAX_PIXELS = 256 * 256, 1280 * 1280


@pytest.fixture(scope="module")
def processor(tokenizer):
    return build_processor(tokenizer, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)


def bright_structure_box(gray: np.ndarray, quantile: float) -> list[float]:
    """Pixel-edge box [x1, y1, x2, y2] of the largest region brighter than `quantile`."""
    labels, count = ndimage.label(gray > np.quantile(gray, quantile))
    largest = 1 + int(np.argmax(ndimage.sum(np.ones_like(gray), labels, range(1, count + 1))))
    rows, columns = np.nonzero(labels == largest)
    return [float(columns.min()), float(rows.min()), float(columns.max() + 1), float(rows.max() + 1)]


@pytest.mark.compat
@pytest.mark.parametrize("size", [(1411, 1411), (1841, 1955), (100, 3000), (37, 41), (4000, 300), (2048, 1536)])
def test_model_input_size_is_what_the_image_processor_does(processor, size):
    grid = processor.image_processor(images=[random_image(*size)], return_tensors="pt")["image_grid_thw"][0]
    assert processor.model_input_size(size) == (int(grid[2]) * 16, int(grid[1]) * 16)


@pytest.mark.compat
def test_a_painted_structure_on_a_radiograph_survives_resize_text_and_back(processor):
    image = processor.load_image(get_testdata_file("RG1_UNCR.dcm"))  # 1841x1955 CR
    truth = [612.0, 830.0, 905.0, 1101.0]
    ImageDraw.Draw(image).rectangle([truth[0], truth[1], truth[2] - 1, truth[3] - 1], fill=(255, 255, 255))

    # what the model sees: the processor's resize of the original
    model_w, model_h = processor.model_input_size(image.size)
    model_view = np.asarray(image.resize((model_w, model_h), Image.BICUBIC).convert("L")).astype(float)
    seen = bright_structure_box(model_view, 0.96)
    expected_in_model = convert_boxes([truth], "original_pixels", "model_pixels", image.size, (model_w, model_h))[0]
    np.testing.assert_allclose(seen, expected_in_model, atol=1.5)  # the frame points at the structure

    text = processor.format_boxes([{"label": "marker", "box": truth}], image.size)
    assert text.startswith("marker <box>[[") and processor.box_format == "model_pixels"
    [[back]] = processor.post_process_grounding([text], [image.size])
    assert back["label"] == "marker"
    np.testing.assert_allclose(back["box"], truth, atol=1.0)


@pytest.mark.compat
def test_the_optic_disc_of_a_fundus_photograph_survives_the_round_trip(processor):
    image = processor.load_image(Path(skimage.data.__file__).parent / "retina.jpg")
    disc = bright_structure_box(np.asarray(image.convert("L")).astype(float), 0.995)
    for frame in ("model_pixels", "grid_1000", "original_pixels"):
        text = processor.format_boxes([{"label": "optic disc", "box": disc}], image.size, box_format=frame)
        [[back]] = processor.post_process_grounding(text, [image.size], box_format=frame)
        np.testing.assert_allclose(back["box"], disc, atol=1.0)


@pytest.mark.compat
@settings(max_examples=150, deadline=None)
@given(
    width=st.integers(8, 6000),
    height=st.integers(8, 6000),
    fractions=st.lists(st.floats(0, 1), min_size=4, max_size=4),
    frame=st.sampled_from(["model_pixels", "grid_1000", "original_pixels"]),
    style=st.sampled_from([None, "medmo", "answer", "qwen_json"]),
)
def test_format_is_the_inverse_of_post_process_at_any_size(processor, width, height, fractions, frame, style):
    if max(width, height) / min(width, height) > 200:  # Qwen's resize refuses such aspect ratios
        return
    x1, x2 = sorted([fractions[0] * width, fractions[2] * width])
    y1, y2 = sorted([fractions[1] * height, fractions[3] * height])
    text = processor.format_boxes([{"label": "lesion", "box": [x1, y1, x2, y2]}], (width, height), style, frame)
    [[back]] = processor.post_process_grounding([text], [(width, height)], box_format=frame)
    np.testing.assert_allclose(back["box"], [x1, y1, x2, y2], atol=1.0)


@pytest.mark.compat
def test_post_process_orders_clips_and_keeps_labels(processor):
    size = (640, 480)
    model_w, model_h = processor.model_input_size(size)
    text = f"Mass <box>[[{model_w + 50}, {model_h + 9}, -10, 0]]</box>\nNodule: <box> 0, 0, {model_w}, {model_h} </box>"
    [boxes] = processor.post_process_grounding(text, [size])
    assert boxes == [
        {"label": "Mass", "box": [0.0, 0.0, 640.0, 480.0]},
        {"label": "Nodule", "box": [0.0, 0.0, 640.0, 480.0]},
    ]


@pytest.mark.compat
def test_post_process_accepts_token_ids_and_checks_lengths(processor):
    ids = processor.tokenizer(["Nodule <box>[[0, 0, 10, 10]]</box>"], return_tensors="pt")["input_ids"]
    assert processor.post_process_grounding(ids, [(320, 320)], box_format="original_pixels")[0][0]["box"] == [0, 0, 10, 10]
    with pytest.raises(ValueError, match="one size per text"):
        processor.post_process_grounding(["a", "b"], [(10, 10)])


@pytest.mark.compat
def test_box_format_is_saved_with_the_processor(tokenizer, tmp_path):
    processor = build_processor(tokenizer)
    processor.box_format = "grid_1000"
    processor.save_pretrained(tmp_path)
    assert MedMOProcessor.from_pretrained(tmp_path).box_format == "grid_1000"
    with pytest.raises(ValueError, match="box_format"):
        MedMOProcessor(processor.image_processor, tokenizer, box_format="yolo")


@pytest.mark.compat
def test_grid_checkpoints_write_qwen_json(tokenizer):
    processor = build_processor(tokenizer)
    text = processor.format_boxes([{"label": "nodule", "box": [32, 16, 64, 48]}], (64, 64), box_format="grid_1000")
    assert text == '```json\n[{"bbox_2d": [500, 250, 1000, 750], "label": "nodule"}]\n```'


@pytest.mark.compat
def test_dicom_in_chat_messages_with_a_window(tiny):
    _, processor = tiny
    path = get_testdata_file("CT_small.dcm")
    message = [{"role": "user", "content": [{"type": "image", "image": path, "window": "lung"}, {"type": "text", "text": "Findings?"}]}]
    from_file = chat_inputs(processor, message)
    loaded = processor.load_image(path, window="lung")
    from_image = chat_inputs(processor, [{"role": "user", "content": [{"type": "image", "image": loaded}, {"type": "text", "text": "Findings?"}]}])
    assert from_file["pixel_values"].equal(from_image["pixel_values"])
    bone = chat_inputs(processor, [{"role": "user", "content": [{"type": "image", "image": path, "window": "bone"}, {"type": "text", "text": "Findings?"}]}])
    assert not bone["pixel_values"].equal(from_file["pixel_values"])
    assert message[0]["content"][0]["image"] == path  # the caller's messages are not modified


@pytest.mark.compat
def test_volume_items_become_numbered_slices(tiny):
    import nibabel

    _, processor = tiny
    path = Path(nibabel.__file__).parent / "tests" / "data" / "anatomical.nii"
    message = [{"role": "user", "content": [{"type": "volume", "volume": str(path), "num_slices": 3}, {"type": "text", "text": "Describe."}]}]
    prompt = processor.apply_chat_template(message, add_generation_prompt=True)
    assert prompt.count("<|image_pad|>") == 3
    assert "Axial slice 4:" in prompt and "Axial slice 20:" in prompt
    inputs = chat_inputs(processor, message)
    assert inputs["image_grid_thw"].shape[0] == 3


@pytest.mark.compat
def test_processor_call_reads_dicom_paths(tiny):
    _, processor = tiny
    path = get_testdata_file("MR_small.dcm")
    text = "<|vision_start|><|image_pad|><|vision_end|>Describe."
    direct = processor(text=[text], images=[path], return_tensors="pt")
    assert direct["pixel_values"].equal(processor(text=[text], images=[processor.load_image(path)], return_tensors="pt")["pixel_values"])
