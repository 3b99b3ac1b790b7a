# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Tiny MedMO models built offline: a Qwen-style tokenizer, a processor and random weights.

Used by the tests, the demo and the `tiny` training recipes. Nothing here touches the Hub: the
tokenizer is a byte-level BPE trained in milliseconds on a small medical corpus and loaded
through transformers' own Qwen2 tokenizer class (so it has Qwen's pre-tokenizer and decoder),
with Qwen3-VL's 26 special tokens appended in Qwen's order.
"""

import json
import tempfile
from collections.abc import Iterable
from pathlib import Path

import transformers
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
from transformers import AddedToken

from .configuration_medmo import MedMOConfig
from .modeling_medmo import MedMOForConditionalGeneration
from .processing_medmo import MedMOProcessor


TRANSFORMERS_MAJOR = int(transformers.__version__.split(".")[0])

# Qwen2/3's pre-tokenizer split: words, single digits, punctuation runs, newlines, spaces.
QWEN_SPLIT_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

# Qwen3's added tokens in id order (151643...151668 in the real vocabulary). The second field
# says whether the tokenizer treats the token as special (skipped by `skip_special_tokens`).
QWEN3_ADDED_TOKENS = [
    ("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True),
    ("<|object_ref_start|>", True), ("<|object_ref_end|>", True), ("<|box_start|>", True),
    ("<|box_end|>", True), ("<|quad_start|>", True), ("<|quad_end|>", True),
    ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True),
    ("<|image_pad|>", True), ("<|video_pad|>", True), ("<tool_call>", False),
    ("</tool_call>", False), ("<|fim_prefix|>", False), ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False), ("<|fim_pad|>", False), ("<|repo_name|>", False),
    ("<|file_sep|>", False), ("<tool_response>", False), ("</tool_response>", False),
    ("<think>", False), ("</think>", False),
]  # fmt: skip

# Words the tiny models meet in tests and the demo, so that they tokenize into few pieces.
DEFAULT_CORPUS = [
    "You are a medical imaging expert. Detect any visible diseases or abnormalities in this X-ray image.",
    "For each detected finding, provide the disease name and bounding box coordinates in pixel values.",
    "Describe the findings. Write the radiology report. Is there a nodule? How many lesions are there?",
    "Which side is the lesion on? Answer yes or no. The answer is left right both none.",
    "A 14 mm nodule in the left upper zone. No pleural effusion. No pneumothorax. Heart size is normal.",
    "Mass in the right lower zone. Effusion is not seen. Consolidation cannot be excluded.",
    "Cardiomegaly, atelectasis, edema, pneumonia, fracture, emphysema, fibrosis, hernia, infiltration.",
    "nodule mass effusion lesion lesions finding findings impression no acute cardiopulmonary process",
    "Nodule <box>[[156, 516, 231, 607], [240, 529, 296, 581]]</box> Mass: <box> 12, 40, 80, 96 </box>",
    '{"bbox_2d": [100, 200, 300, 400], "label": "nodule"} <think> reasoning </think><answer> B </answer>',
    "0 1 2 3 4 5 6 7 8 9 10 100 1000 , . : ; ( ) [ ] { } < > / - yes no",
]


def build_tokenizer(corpus: Iterable[str] | None = None, vocab_size: int = 1000):
    """A Qwen3-style tokenizer (byte-level BPE + Qwen3's special tokens), built offline.

    Special-token ids differ from the real vocabulary's: read them from the tokenizer
    (`tokenizer.convert_tokens_to_ids("<|image_pad|>")`), never hard-code 151655.
    """
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_SPLIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    bpe.train_from_iterator(list(corpus or DEFAULT_CORPUS) * 4, trainer)
    model = json.loads(bpe.to_str())["model"]
    merges = [" ".join(pair) if isinstance(pair, list) else pair for pair in model["merges"]]
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "vocab.json").write_text(json.dumps(model["vocab"]), encoding="utf-8")
        Path(folder, "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
        # The same class the published checkpoints use, in each transformers major version.
        tokenizer_class = transformers.Qwen2Tokenizer if TRANSFORMERS_MAJOR >= 5 else transformers.Qwen2TokenizerFast
        tokenizer = tokenizer_class.from_pretrained(folder, errors="replace")
    tokenizer.add_tokens([AddedToken(token, special=special, normalized=False) for token, special in QWEN3_ADDED_TOKENS])
    tokenizer.add_special_tokens(
        {
            "eos_token": "<|im_end|>",
            "pad_token": "<|endoftext|>",
            "additional_special_tokens": [token for token, special in QWEN3_ADDED_TOKENS if special],
        }
    )
    tokenizer.chat_template = (Path(__file__).parent / "chat_template.jinja").read_text(encoding="utf-8")
    return tokenizer


def build_image_processor(min_pixels: int = 32 * 32, max_pixels: int = 128 * 128, patch_size: int = 16):
    """Qwen3-VL's image processor (16-px patches unless `patch_size` says otherwise, 2x2 merge,
    mean/std 0.5), PIL backend."""
    settings = {
        "patch_size": patch_size,
        "temporal_patch_size": 2,
        "merge_size": 2,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "size": {"shortest_edge": min_pixels, "longest_edge": max_pixels},
    }
    if TRANSFORMERS_MAJOR >= 5:
        return transformers.Qwen2VLImageProcessorPil(**settings)
    return transformers.Qwen2VLImageProcessor(**settings, min_pixels=min_pixels, max_pixels=max_pixels)


def build_processor(tokenizer=None, min_pixels: int = 32 * 32, max_pixels: int = 128 * 128, patch_size: int = 16) -> MedMOProcessor:
    """A MedMO processor around an offline tokenizer and Qwen3-VL's image processor."""
    tokenizer = tokenizer if tokenizer is not None else build_tokenizer()
    return MedMOProcessor(
        image_processor=build_image_processor(min_pixels, max_pixels, patch_size),
        tokenizer=tokenizer,
        chat_template=tokenizer.chat_template,
    )


def tiny_config(tokenizer, **overrides) -> MedMOConfig:
    """The `tiny` preset sized to `tokenizer`, with its special-token ids."""
    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in _VISION_TOKENS.items()}
    vocab_size = max(len(tokenizer), 1 + max(ids.values()))
    text_overrides = {
        "vocab_size": vocab_size,
        "eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>"),
        "pad_token_id": tokenizer.pad_token_id,
        **overrides.pop("text_config", {}),
    }
    return MedMOConfig.from_preset("tiny", text_config=text_overrides, **ids, **overrides)


_VISION_TOKENS = {
    "image_token_id": "<|image_pad|>",
    "video_token_id": "<|video_pad|>",
    "vision_start_token_id": "<|vision_start|>",
    "vision_end_token_id": "<|vision_end|>",
}


def build_tiny(seed: int = 0, tokenizer=None, **config_overrides):
    """A random tiny MedMO model and its processor, ready to run on a CPU in milliseconds. The
    processor's patch size follows a `vision_config={"patch_size": ...}` override."""
    import torch

    patch_size = (config_overrides.get("vision_config") or {}).get("patch_size", 16)
    processor = build_processor(tokenizer, patch_size=patch_size)
    torch.manual_seed(seed)
    model = MedMOForConditionalGeneration(tiny_config(processor.tokenizer, **config_overrides))
    model.generation_config.eos_token_id = processor.tokenizer.convert_tokens_to_ids("<|im_end|>")
    model.generation_config.pad_token_id = processor.tokenizer.pad_token_id
    return model.eval(), processor


def save_tiny(output_dir: str | Path, seed: int = 0, aux_encoder: str | None = None, **config_overrides) -> Path:
    """Write a complete tiny MedMO repository folder (weights, code, processor) to `output_dir`,
    with a tiny random auxiliary encoder attached when `aux_encoder` names one of `TINY_AUX_ENCODERS`."""
    from .checkpoint import save_medmo_folder

    model, processor = build_tiny(seed=seed, **config_overrides)
    if aux_encoder is None:
        return save_medmo_folder(model, processor, output_dir)
    from .aux_encoder import attach_aux_encoder

    with tempfile.TemporaryDirectory() as encoder_folder:
        save_tiny_aux_encoder(encoder_folder, aux_encoder, seed=seed)
        return attach_aux_encoder(model, encoder_folder, output_dir, processor=processor, seed=seed)


# Tiny vision encoders in the shape of the real auxiliary candidates, with their processors' settings:
# RAD-DINO (a DINOv2 that centre-crops to its input) and a SigLIP vision tower (resizes to a square).
TINY_AUX_ENCODERS = {
    "dinov2": (
        {"model_type": "dinov2", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
         "patch_size": 8, "image_size": 64},
        {"image_processor_type": "BitImageProcessor", "do_resize": True, "size": {"shortest_edge": 64}, "do_center_crop": True,
         "crop_size": {"height": 64, "width": 64}, "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
         "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]},
    ),
    "siglip": (
        {"model_type": "siglip_vision_model", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
         "intermediate_size": 64, "patch_size": 8, "image_size": 32},
        {"image_processor_type": "SiglipImageProcessor", "do_resize": True, "size": {"height": 32, "width": 32},
         "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]},
    ),
}  # fmt: skip


def save_tiny_aux_encoder(output_dir: str | Path, kind: str = "dinov2", seed: int = 0, **config_overrides) -> Path:
    """Write a tiny random vision-encoder folder as a pretrained one looks (config, safetensors weights,
    `preprocessor_config.json`), for `attach_aux_encoder` in tests and the tiny recipes."""
    import torch
    from transformers import AutoConfig, AutoModel

    if kind not in TINY_AUX_ENCODERS:
        raise ValueError(f"Unknown tiny auxiliary encoder {kind!r}; choose one of {sorted(TINY_AUX_ENCODERS)}.")
    config, processor_settings = TINY_AUX_ENCODERS[kind]
    config = {**config, **config_overrides}
    torch.manual_seed(seed)
    model = AutoModel.from_config(AutoConfig.for_model(config.pop("model_type"), **config))
    output_dir = Path(output_dir)
    model.save_pretrained(output_dir, safe_serialization=True)
    (output_dir / "preprocessor_config.json").write_text(json.dumps(processor_settings, indent=2) + "\n", encoding="utf-8")
    return output_dir
