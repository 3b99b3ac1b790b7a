"""MedMOConfig: presets with the published shapes, shape checks that name the field, file round trips."""

import doctest
import json

import pytest
import torch
from PIL import Image
from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

import medmo.configuration_medmo as configuration_module
from medmo import MedMOConfig


def expected_parameter_count(config: MedMOConfig) -> int:
    """Parameters of a Qwen3-VL model, counted from the architecture by hand (independent of torch)."""
    text, vision = config.text_config, config.vision_config
    hidden, heads, kv_heads, head_dim = text.hidden_size, text.num_attention_heads, text.num_key_value_heads, text.head_dim
    attention = hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim + heads * head_dim * hidden + 2 * head_dim
    text_layer = attention + 3 * hidden * text.intermediate_size + 2 * hidden
    embeddings = text.vocab_size * hidden
    lm_head = 0 if config.tie_word_embeddings else text.vocab_size * hidden
    language = embeddings + text.num_hidden_layers * text_layer + hidden + lm_head

    width, inner = vision.hidden_size, vision.intermediate_size
    patch = vision.in_channels * vision.temporal_patch_size * vision.patch_size**2 * width + width
    block = 2 * 2 * width + (width * 3 * width + 3 * width) + (width * width + width)
    block += (width * inner + inner) + (inner * width + width)
    merged = width * vision.spatial_merge_size**2

    def merger(norm_width: int) -> int:
        return 2 * norm_width + (merged * merged + merged) + (merged * vision.out_hidden_size + vision.out_hidden_size)

    visual = patch + vision.num_position_embeddings * width + vision.depth * block
    visual += merger(width) + len(vision.deepstack_visual_indexes) * merger(merged)
    return language + visual


def meta_parameter_count(config) -> int:
    with torch.device("meta"):
        model = Qwen3VLForConditionalGeneration(config)
    return sum(parameter.numel() for parameter in model.parameters())


@pytest.mark.compat
@pytest.mark.parametrize(
    ("preset", "hub_billions", "hidden", "vision_depth", "tied"),
    [
        # The Hub pages of Qwen3-VL-4B/8B-Instruct (and MedMO-4B/8B) show 4.44B and 8.77B parameters.
        ("medmo-4b", 4.44, 2560, 24, True),
        ("medmo-8b", 8.77, 4096, 27, False),
    ],
)
def test_presets_match_the_published_checkpoints(preset, hub_billions, hidden, vision_depth, tied):
    config = MedMOConfig.from_preset(preset)
    count = meta_parameter_count(config)
    assert count == expected_parameter_count(config)
    assert round(count / 1e9, 2) == hub_billions
    assert config.text_config.hidden_size == hidden
    assert config.vision_config.depth == vision_depth
    assert config.tie_word_embeddings is tied


@pytest.mark.compat
def test_exact_parameter_totals_of_the_published_sizes():
    assert meta_parameter_count(MedMOConfig.from_preset("medmo-4b")) == 4_437_815_808
    assert meta_parameter_count(MedMOConfig.from_preset("medmo-8b")) == 8_767_123_696


@pytest.mark.compat
def test_default_config_is_medmo_8b():
    assert MedMOConfig().to_dict()["text_config"] == MedMOConfig.from_preset("medmo-8b").to_dict()["text_config"]


@pytest.mark.compat
def test_tiny_preset_builds_a_model_with_the_counted_parameters():
    config = MedMOConfig.from_preset("tiny")
    assert meta_parameter_count(config) == expected_parameter_count(config)


def test_tiny_builder_gives_the_processor_the_model_patch_size():
    from medmo.tiny import build_tiny

    model, processor = build_tiny(vision_config={"patch_size": 8, "num_position_embeddings": 256})
    assert model.config.vision_config.patch_size == processor.image_processor.patch_size == 8
    inputs = processor(images=[Image.new("RGB", (128, 128))], text=["<|vision_start|><|image_pad|><|vision_end|>"], return_tensors="pt")
    # 8-px patches: a 128-px image is a 16 x 16 patch grid, which the model consumes without a shape error
    assert inputs["image_grid_thw"].tolist() == [[1, 16, 16]]
    with torch.no_grad():
        model(**inputs)


def test_unknown_preset_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"medmo-4b.*medmo-8b.*tiny"):
        MedMOConfig.from_preset("medmo-70b")


@pytest.mark.compat
@pytest.mark.parametrize("indexes", [[0, 2], [-1], [5]])
def test_deepstack_index_outside_the_vision_tower_names_the_field(indexes):
    with pytest.raises(ValueError, match=r"vision_config\.deepstack_visual_indexes"):
        MedMOConfig.from_preset("tiny", vision_config={"depth": 2, "deepstack_visual_indexes": indexes})


@pytest.mark.compat
@pytest.mark.parametrize("section", [[4, 2, 1], [4, 4], [2, 2, 2, 2]])
def test_mrope_section_that_does_not_cover_head_dim_names_the_field(section):
    rope = {"rope_type": "default", "mrope_section": section, "mrope_interleaved": True}
    with pytest.raises(ValueError, match=r"mrope_section"):
        MedMOConfig.from_preset("tiny", text_config={"rope_scaling": rope})


@pytest.mark.compat
def test_vision_output_width_must_match_the_language_model():
    with pytest.raises(ValueError, match=r"out_hidden_size"):
        MedMOConfig.from_preset("tiny", vision_config={"out_hidden_size": 48})


@pytest.mark.compat
def test_saved_config_carries_both_rope_spellings_and_the_vision_model_type(tmp_path):
    MedMOConfig.from_preset("tiny").save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    text = saved["text_config"]
    assert saved["model_type"] == "medmo"
    assert text["rope_theta"] == 10000
    assert text["rope_scaling"]["mrope_section"] == [4, 2, 2]
    assert saved["vision_config"]["model_type"] == "qwen3_vl_vision"
    reloaded = MedMOConfig.from_pretrained(tmp_path)
    assert reloaded.to_dict()["text_config"] == MedMOConfig.from_preset("tiny").to_dict()["text_config"]


@pytest.mark.compat
@pytest.mark.parametrize("preset", ["tiny", "medmo-4b", "medmo-8b"])
def test_serialisation_is_idempotent(preset, tmp_path):
    # transformers' own config tests require it. `from_dict` used to write `rope_theta` into the
    # `rope_scaling` of the dict it was given, so the round trip no longer matched that dict.
    config = MedMOConfig.from_preset(preset)
    serialised = config.to_dict()
    assert MedMOConfig.from_dict(serialised).to_dict() == serialised == config.to_dict()
    config.save_pretrained(tmp_path)  # adds the `auto_map` entry of the saved code file, nothing else
    assert MedMOConfig.from_pretrained(tmp_path).to_dict() == {**serialised, "auto_map": {"AutoConfig": "configuration_medmo.MedMOConfig"}}


@pytest.mark.compat
def test_a_text_config_with_only_5x_rope_parameters_builds_on_either_version():
    # What a stock Qwen3-VL folder saved by transformers 5.x carries; 4.57 needs `rope_scaling`.
    text = dict(MedMOConfig.from_preset("tiny").to_dict()["text_config"])
    text["rope_parameters"] = {**text.pop("rope_scaling"), "rope_theta": text.pop("rope_theta")}
    config = MedMOConfig(text_config=text, vision_config=MedMOConfig.from_preset("tiny").to_dict()["vision_config"])
    saved = config.to_dict()["text_config"]
    assert saved["rope_scaling"]["mrope_section"] == [4, 2, 2] and saved["rope_theta"] == 10000
    assert "rope_parameters" in text and "rope_scaling" not in text  # the caller's dict is left as it was
    # the in-memory config is usable by this version's rotary embedding (4.57 read `rope_scaling`
    # as None here and failed with "'NoneType' object has no attribute 'get'")
    model = Qwen3VLForConditionalGeneration(config).eval()
    with torch.no_grad():
        assert torch.isfinite(model(input_ids=torch.tensor([[1, 2, 3]])).logits).all()


@pytest.mark.compat
def test_a_published_qwen3vl_config_json_loads_as_medmo():
    # The published config.json of Qwen3-VL-8B-Instruct (legacy rope keys, vision model_type "qwen3_vl").
    published = MedMOConfig.from_preset("medmo-8b").to_dict()
    published["model_type"] = "qwen3_vl"
    published["vision_config"]["model_type"] = "qwen3_vl"
    for key in ("rope_parameters",):
        published["text_config"].pop(key, None)
    config = MedMOConfig.from_dict(published)
    assert config.model_type == "medmo"
    assert meta_parameter_count(config) == 8_767_123_696
    assert meta_parameter_count(Qwen3VLConfig.from_dict(published)) == 8_767_123_696


def test_docstring_example_runs():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = finder.find(configuration_module.MedMOConfig, "MedMOConfig", globs={})
    assert tests and tests[0].examples
    for test in tests:
        runner.run(test)
    assert runner.failures == 0


def test_old_transformers_gets_an_error_naming_the_upgrade(monkeypatch):
    import importlib.util
    import sys
    import types

    old = types.ModuleType("transformers")
    old.__version__ = "4.56.2"  # before Qwen3-VL: no Qwen3VLConfig
    monkeypatch.setitem(sys.modules, "transformers", old)
    spec = importlib.util.spec_from_file_location("configuration_medmo_old", configuration_module.__file__)
    with pytest.raises(ImportError, match=r"transformers >= 4.57.*4\.56\.2.*pip install -U 'transformers>=4.57'"):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
