"""MedMOProcessor: image-only without torchvision, mm_token_type_ids, pixel limits, the Qwen3-VL chat template."""

from pathlib import Path

import pytest
import transformers
from helpers import chat_inputs, random_image, user_message

import medmo.processing_medmo as processing_module
from medmo import MedMOProcessor
from medmo.tiny import build_processor


TF_MAJOR = int(transformers.__version__.split(".")[0])
REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.compat
def test_builds_and_runs_without_torchvision(tiny):
    _, processor = tiny
    assert not transformers.utils.is_torchvision_available(), "this environment is meant to lack torchvision"
    assert not hasattr(processor, "video_processor") or processor.video_processor is None
    inputs = processor(text=["<|vision_start|><|image_pad|><|vision_end|>Describe."], images=[random_image(64, 64)])
    assert inputs["image_grid_thw"].tolist() == [[1, 4, 4]]


@pytest.mark.skipif(TF_MAJOR < 5, reason="5.x reads the sub-processors from get_attributes()")
def test_video_processor_is_kept_when_torchvision_is_present(monkeypatch):
    assert "video_processor" not in MedMOProcessor.get_attributes()
    monkeypatch.setattr(processing_module, "is_torchvision_available", lambda: True)
    assert MedMOProcessor.get_attributes() == ["image_processor", "tokenizer", "video_processor"]


@pytest.mark.skipif(TF_MAJOR < 5, reason="5.x needs mm_token_type_ids; 4.57's generate rejects them")
def test_mm_token_type_ids_mark_exactly_the_image_tokens(tiny):
    _, processor = tiny
    inputs = chat_inputs(processor, user_message("Is there a nodule?", [random_image(64, 96)]))
    image_token = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert inputs["mm_token_type_ids"].tolist() == (inputs["input_ids"] == image_token).int().tolist()
    assert inputs["mm_token_type_ids"].sum() == inputs["image_grid_thw"].prod() // 4


@pytest.mark.compat
@pytest.mark.parametrize(("width", "height"), [(2000, 1500), (16, 16), (33, 500)])
def test_pixel_limits_bound_the_resized_image(tokenizer, width, height):
    min_pixels, max_pixels = 64 * 64, 256 * 256
    processor = build_processor(tokenizer, min_pixels=min_pixels, max_pixels=max_pixels)
    grid = processor.image_processor(images=[random_image(width, height)], return_tensors="pt")["image_grid_thw"][0]
    pixels = int(grid[1] * grid[2]) * 16 * 16
    assert min_pixels <= pixels <= max_pixels
    assert grid[1] % 2 == 0 and grid[2] % 2 == 0  # whole 2x2 merge windows


@pytest.mark.compat
def test_pixel_limits_survive_save_and_reload(tokenizer, tmp_path):
    build_processor(tokenizer, min_pixels=64 * 64, max_pixels=96 * 96).save_pretrained(tmp_path)
    reloaded = MedMOProcessor.from_pretrained(tmp_path)
    grid = reloaded.image_processor(images=[random_image(1000, 1000)], return_tensors="pt")["image_grid_thw"][0]
    assert int(grid[1] * grid[2]) * 256 <= 96 * 96


@pytest.mark.compat
def test_chat_template_places_image_tokens_and_generation_prompt(tiny):
    _, processor = tiny
    prompt = processor.apply_chat_template(user_message("Describe.", [random_image(32, 32)]), add_generation_prompt=True)
    assert prompt == "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Describe.<|im_end|>\n<|im_start|>assistant\n"


def test_chat_template_is_byte_identical_to_qwen3vls(tiny):
    # TRL keeps Qwen3-VL's original template to recognise it (and swap in its assistant-mask
    # training variant); ours must be the same bytes for `assistant_only_loss=True` to work.
    from trl.chat_template_utils import get_training_chat_template, qwen3_vl_chat_template

    _, processor = tiny
    ours = (REPO_ROOT / "chat_template.jinja").read_text(encoding="utf-8")
    assert ours == qwen3_vl_chat_template == processor.chat_template
    assert "{% generation %}" in get_training_chat_template(processing_class=processor)


@pytest.mark.compat
def test_saved_processor_writes_the_chat_template_file(tiny_dir):
    assert (tiny_dir / "chat_template.jinja").read_text(encoding="utf-8") == (REPO_ROOT / "chat_template.jinja").read_text(
        encoding="utf-8"
    )


@pytest.mark.compat
def test_the_processor_returns_each_images_original_size(tiny):
    import numpy as np
    from pydicom.data import get_testdata_file

    _, processor = tiny
    placeholder = "<|vision_start|><|image_pad|><|vision_end|>"
    inputs = processor(text=[f"{placeholder}A", f"{placeholder}B"], images=[random_image(96, 64), get_testdata_file("CT_small.dcm")],
                       return_tensors="pt", padding=True)  # fmt: skip
    assert inputs["image_sizes"].tolist() == [[96, 64], [128, 128]]  # a DICOM's size, read once, by the processor
    plain = processor(text=[f"{placeholder}A"], images=[random_image(40, 30)])  # no tensors asked: what image_grid_thw is
    assert type(plain["image_sizes"]) is type(plain["image_grid_thw"]) and np.asarray(plain["image_sizes"]).tolist() == [[40, 30]]
    chat = chat_inputs(processor, user_message("Find the lesion.", [random_image(300, 200)]))
    assert chat["image_sizes"].tolist() == [[300, 200]]
    # post_process_grounding takes them as they come, to map the model's boxes to original pixels
    text = processor.format_boxes([{"label": "lesion", "box": [30, 20, 150, 100]}], (300, 200))
    [[box]] = processor.post_process_grounding([text], chat["image_sizes"])
    np.testing.assert_allclose(box["box"], [30, 20, 150, 100], atol=1.0)
