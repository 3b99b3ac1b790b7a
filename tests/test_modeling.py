"""MedMO models are Qwen3-VL: identical tensor names and bit-identical outputs for the same weights."""

import pytest
import torch
from helpers import chat_inputs, for_stock_qwen3vl, random_image, user_message
from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration, Qwen3VLModel

from medmo import MedMOForConditionalGeneration, MedMOModel, MedMOPreTrainedModel


pytestmark = pytest.mark.compat


def qwen3vl_twin(model: MedMOForConditionalGeneration) -> Qwen3VLForConditionalGeneration:
    """The stock Qwen3-VL model with the same configuration and weights."""
    settings = {k: v for k, v in model.config.to_dict().items() if k not in ("model_type", "auto_map", "architectures")}
    twin = Qwen3VLForConditionalGeneration(Qwen3VLConfig(**settings))
    twin.load_state_dict(model.state_dict(), strict=True)
    twin.generation_config = model.generation_config
    return twin.eval()


@pytest.fixture(scope="module")
def pair(tiny):
    model, processor = tiny
    return model, qwen3vl_twin(model), processor


def assert_same_logits(medmo_model, qwen_model, inputs):
    with torch.no_grad():
        expected = qwen_model(**for_stock_qwen3vl(inputs)).logits
        actual = medmo_model(**inputs).logits
    assert torch.equal(actual, expected)
    return actual


def test_classes_are_thin_qwen3vl_subclasses(tiny):
    model, _ = tiny
    assert isinstance(model, Qwen3VLForConditionalGeneration)
    assert isinstance(model, MedMOPreTrainedModel)
    assert issubclass(MedMOModel, Qwen3VLModel)
    assert model.config.model_type == "medmo"


def test_state_dict_keys_and_shapes_are_qwen3vls(pair):
    model, twin, _ = pair
    medmo_state, qwen_state = model.state_dict(), twin.state_dict()
    assert list(medmo_state) == list(qwen_state)
    assert {k: v.shape for k, v in medmo_state.items()} == {k: v.shape for k, v in qwen_state.items()}
    assert any(key.startswith("model.visual.") for key in medmo_state)
    assert any(key.startswith("model.language_model.") for key in medmo_state)
    assert "lm_head.weight" in medmo_state


def test_single_image_logits_are_identical(pair):
    model, twin, processor = pair
    inputs = chat_inputs(processor, user_message("Describe the findings.", [random_image(96, 64)]))
    logits = assert_same_logits(model, twin, inputs)
    assert logits.shape[:2] == inputs["input_ids"].shape


def test_several_images_logits_are_identical(pair):
    model, twin, processor = pair
    images = [random_image(64, 64, seed=1), random_image(128, 48, seed=2), random_image(40, 90, seed=3)]
    inputs = chat_inputs(processor, user_message("Compare these studies.", images))
    assert inputs["image_grid_thw"].shape[0] == 3
    assert_same_logits(model, twin, inputs)


def test_text_only_logits_are_identical(pair):
    model, twin, processor = pair
    inputs = chat_inputs(processor, user_message("What is a pleural effusion?"))
    assert "pixel_values" not in inputs
    assert_same_logits(model, twin, inputs)


def test_left_padded_batch_logits_are_identical_and_match_unpadded_rows(pair):
    model, twin, processor = pair
    conversations = [
        user_message("Is there a nodule?", [random_image(64, 64, seed=4)]),
        user_message("Describe the findings in this chest radiograph in detail.", [random_image(96, 80, seed=5)]),
    ]
    side, processor.tokenizer.padding_side = processor.tokenizer.padding_side, "left"
    try:
        batch = chat_inputs(processor, conversations, padding=True)
    finally:
        processor.tokenizer.padding_side = side
    assert (batch["attention_mask"][0] == 0).any(), "the first row should be left-padded"
    logits = assert_same_logits(model, twin, batch)
    single = chat_inputs(processor, conversations[0])
    with torch.no_grad():
        alone = model(**single).logits
    length = single["input_ids"].shape[1]
    torch.testing.assert_close(logits[0, -length:], alone[0], atol=1e-4, rtol=1e-4)


def test_generate_with_kv_cache_is_identical(pair):
    model, twin, processor = pair
    inputs = chat_inputs(processor, user_message("Locate the lesion.", [random_image(80, 64, seed=6)]))
    settings = dict(max_new_tokens=8, do_sample=False, use_cache=True, output_scores=True, return_dict_in_generate=True)
    with torch.no_grad():
        expected = twin.generate(**for_stock_qwen3vl(inputs), **settings)
        actual = model.generate(**inputs, **settings)
        uncached = model.generate(**inputs, max_new_tokens=8, do_sample=False, use_cache=False)
    assert torch.equal(actual.sequences, expected.sequences)
    assert all(torch.equal(a, b) for a, b in zip(actual.scores, expected.scores))
    assert torch.equal(actual.sequences, uncached)


def test_image_token_count_mismatch_raises_value_error(pair):
    model, _, processor = pair
    inputs = chat_inputs(processor, user_message("Describe.", [random_image(64, 64)]))
    image_token = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    ids = inputs["input_ids"].clone()
    ids[0, (ids[0] == image_token).nonzero()[0]] = processor.tokenizer.convert_tokens_to_ids("Describe")
    with pytest.raises(ValueError, match="[Ii]mage features and image tokens do not match"):
        with torch.no_grad():
            model(**{**inputs, "input_ids": ids})
