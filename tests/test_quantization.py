"""Quantized loading: int8 weight-only on CPU for real; bitsandbytes configs (CUDA) as built, with
the vision tower and output head left out of quantization, checked against the model's module names."""

import importlib.util

import pytest
import torch
from transformers import BitsAndBytesConfig, QuantoConfig
from transformers.quantizers.quantizers_utils import should_convert_module

from medmo.inference.quantization import KEEP_UNQUANTIZED, METHODS, kept_modules, load_quantized, quantization_config, weight_bytes
from medmo.inference.quantization import load_for_inference


def linear_names(model) -> list[str]:
    return [name for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)]


def test_the_configs_keep_the_vision_tower_and_head():
    int8, bnb8, bnb4 = (quantization_config(method) for method in METHODS)
    assert isinstance(int8, QuantoConfig) and int8.weights == "int8" and int8.modules_to_not_convert == list(KEEP_UNQUANTIZED)
    assert isinstance(bnb8, BitsAndBytesConfig) and bnb8.load_in_8bit and bnb8.llm_int8_skip_modules == list(KEEP_UNQUANTIZED)
    assert bnb4.load_in_4bit and bnb4.bnb_4bit_quant_type == "nf4" and bnb4.bnb_4bit_use_double_quant
    assert bnb4.bnb_4bit_compute_dtype == torch.bfloat16 and bnb4.llm_int8_skip_modules == list(KEEP_UNQUANTIZED)


def test_the_skip_list_matches_exactly_the_vision_tower_merger_and_head(tiny):
    model, _ = tiny
    kept = [name for name in linear_names(model) if not should_convert_module(name, list(KEEP_UNQUANTIZED))]
    quantized = [name for name in linear_names(model) if should_convert_module(name, list(KEEP_UNQUANTIZED))]
    assert kept_modules(model) == list(KEEP_UNQUANTIZED)
    assert any(".merger." in name for name in kept) and any("deepstack_merger_list" in name for name in kept)
    assert set(kept) == {name for name in linear_names(model) if name.startswith("model.visual.")} | {"lm_head"}
    assert quantized and all(name.startswith("model.language_model.layers.") for name in quantized)


def test_a_renamed_module_is_caught(tiny):
    model, _ = tiny
    renamed = torch.nn.Module()
    renamed.add_module("lm_head", torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"no module \['model.visual'\]"):
        kept_modules(renamed)


def test_int8_on_cpu_quantizes_the_language_model_only_and_still_answers(tiny_dir, tiny):
    full, processor = load_for_inference(str(tiny_dir), device="cpu")
    quantized, _ = load_quantized(str(tiny_dir), "int8", device="cpu")
    layer = quantized.model.language_model.layers[0].self_attn.q_proj
    assert type(layer).__name__ == "QLinear" and layer.weight._data.dtype == torch.int8
    assert type(quantized.model.visual.merger.linear_fc1) is torch.nn.Linear and quantized.model.visual.merger.linear_fc1.weight.dtype == torch.float32
    assert type(quantized.lm_head) is torch.nn.Linear
    assert weight_bytes(quantized) < weight_bytes(full)
    from helpers import chat_inputs, random_image, user_message

    inputs = chat_inputs(processor, [user_message("Describe the findings.", [random_image(64, 48)])])
    with torch.no_grad():
        reference, approximate = full(**inputs).logits[0, -1], quantized(**inputs).logits[0, -1]
    # int8 per-channel weights: close to the full-precision logits, not equal to them
    assert not torch.equal(reference, approximate)
    assert torch.nn.functional.cosine_similarity(reference, approximate, dim=0) > 0.99


def test_missing_packages_and_unknown_methods_name_the_fix(tiny_dir, monkeypatch):
    with pytest.raises(ValueError, match="use one of int8, bnb-8bit, bnb-4bit"):
        load_quantized(str(tiny_dir), "fp3")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name.startswith("bitsandbytes") else real(name, *a))
    with pytest.raises(ImportError, match=r'pip install bitsandbytes \(or pip install "medmo\[quantization-cuda\]"\)'):
        load_quantized(str(tiny_dir), "bnb-4bit")
