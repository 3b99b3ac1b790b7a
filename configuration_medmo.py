# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""MedMO configuration: Qwen3-VL's configuration under its own `model_type`.

MedMO checkpoints are Qwen3-VL checkpoints (same tensors, same shapes). This file only adds what
MedMO needs on top: a model type of its own so the Auto APIs find the MedMO classes, named presets
for the published sizes, early shape checks with errors that name the field, and a config file
that both transformers 4.57 and 5.x can read back.
"""

import copy

import transformers


try:
    from transformers import AutoConfig, PretrainedConfig, Qwen3VLConfig
except ImportError as error:  # Qwen3-VL arrived in transformers 4.57
    raise ImportError(
        f"MedMO needs transformers >= 4.57 (Qwen3-VL support); this environment has {transformers.__version__}. "
        "Upgrade with: pip install -U 'transformers>=4.57'"
    ) from error


# Shapes of the published checkpoints, in the format of their `config.json` (legacy `rope_theta` /
# `rope_scaling` keys, which both transformers 4.57 and 5.x read). Source: the `config.json` of
# Qwen/Qwen3-VL-4B-Instruct and Qwen/Qwen3-VL-8B-Instruct, which MedMO-4B / MedMO-8B fine-tune.
_QWEN3VL_ROPE = {"rope_type": "default", "mrope_section": [24, 20, 20], "mrope_interleaved": True}
_QWEN3VL_TEXT = {
    "vocab_size": 151936,
    "head_dim": 128,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "num_hidden_layers": 36,
    "max_position_embeddings": 262144,
    "rms_norm_eps": 1e-6,
    "rope_theta": 5000000,
    "rope_scaling": _QWEN3VL_ROPE,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
}
PRESETS = {
    "medmo-4b": {
        "text_config": {**_QWEN3VL_TEXT, "hidden_size": 2560, "intermediate_size": 9728, "tie_word_embeddings": True},
        "vision_config": {
            "depth": 24,
            "hidden_size": 1024,
            "intermediate_size": 4096,
            "num_heads": 16,
            "out_hidden_size": 2560,
            "deepstack_visual_indexes": [5, 11, 17],
        },
        "tie_word_embeddings": True,
    },
    "medmo-8b": {
        "text_config": {**_QWEN3VL_TEXT, "hidden_size": 4096, "intermediate_size": 12288},
        "vision_config": {
            "depth": 27,
            "hidden_size": 1152,
            "intermediate_size": 4304,
            "num_heads": 16,
            "out_hidden_size": 4096,
            "deepstack_visual_indexes": [8, 16, 24],
        },
        "tie_word_embeddings": False,
    },
    # Small enough for a CPU test in milliseconds, big enough to exercise every code path: two
    # DeepStack levels, grouped-query attention, interleaved M-RoPE over (t, h, w).
    "tiny": {
        "text_config": {
            "vocab_size": 1024,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
            "max_position_embeddings": 4096,
            "rope_theta": 10000,
            "rope_scaling": {"rope_type": "default", "mrope_section": [4, 2, 2], "mrope_interleaved": True},
        },
        "vision_config": {
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": 64,
            "patch_size": 16,
            "num_position_embeddings": 256,
            "deepstack_visual_indexes": [0, 1],
        },
        "tie_word_embeddings": False,
    },
}


# Where each Auto class finds MedMO in a saved folder (`save_pretrained` copies these files).
MODEL_AUTO_MAP = {
    "AutoModel": "modeling_medmo.MedMOModel",
    "AutoModelForImageTextToText": "modeling_medmo.MedMOForConditionalGeneration",
    "AutoModelForVision2Seq": "modeling_medmo.MedMOForConditionalGeneration",
}


def _deep_update(base: dict, overrides: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_update(merged[key], value)
        else:
            merged[key] = value
    return merged


def _field(sub_config, name, default=None):
    """Read a field from a sub-config given as an object or a dict."""
    if isinstance(sub_config, dict):
        return sub_config.get(name, default)
    return getattr(sub_config, name, default)


def _rope_dict(text_config) -> dict:
    """M-RoPE settings: `rope_parameters` in transformers 5.x, `rope_scaling` in 4.57."""
    return _field(text_config, "rope_parameters") or _field(text_config, "rope_scaling") or {}


def _with_both_rope_spellings(text: dict) -> dict:
    """`text` (a text-config dict) with M-RoPE under both spellings, whichever it arrived with.

    transformers 5.x writes only `rope_parameters` (with `rope_theta` inside); 4.57 reads only
    `rope_scaling` + `rope_theta` and fails on a file without them. Either version reads a file
    carrying both.
    """
    rope = text.get("rope_parameters")
    if rope:
        text["rope_scaling"] = {key: value for key, value in rope.items() if key != "rope_theta"}
        text["rope_theta"] = rope.get("rope_theta", text.get("rope_theta"))
    return text


# The normalisation of Qwen3-VL's published image processor, which the auxiliary encoder undoes to
# recover pixels from `pixel_values` unless the settings name the processor's own.
QWEN3VL_IMAGE_MEAN = [0.5, 0.5, 0.5]
QWEN3VL_IMAGE_STD = [0.5, 0.5, 0.5]


_ENCODER_KEYS_NOT_KEPT = ("_name_or_path", "transformers_version", "architectures", "dtype", "torch_dtype")


def _three_floats(value, name: str) -> list[float]:
    if not isinstance(value, (list, tuple)) or len(value) != 3 or not all(isinstance(v, (int, float)) for v in value):
        raise ValueError(f"aux_vision: {name} must be three numbers (one per RGB channel), got {value!r}.")
    if name.endswith("std") and min(value) <= 0:
        raise ValueError(f"aux_vision: {name} must be positive, got {value!r}.")
    return [float(v) for v in value]


def _aux_encoder_settings(spec, position: int) -> dict:
    """One auxiliary encoder's settings, checked and completed (see `MedMOConfig`'s `aux_vision`)."""
    where = f"aux_vision encoder {position}"
    if isinstance(spec, PretrainedConfig):
        spec = {"config": spec}
    if not isinstance(spec, dict) or "config" not in spec:
        raise ValueError(f"{where} must be a dict with a `config` (the encoder's transformers config), got {spec!r}.")
    unknown = set(spec) - {"config", "image_size", "image_mean", "image_std", "feature_layer"}
    if unknown:
        raise ValueError(f"{where} has unknown keys {sorted(unknown)}; allowed: config, image_size, image_mean, image_std, feature_layer.")
    encoder = spec["config"]
    if isinstance(encoder, PretrainedConfig):
        encoder = {**encoder.to_diff_dict(), "model_type": encoder.model_type}
    if not isinstance(encoder, dict) or not encoder.get("model_type"):
        raise ValueError(f"{where}: `config` must be a transformers config or its dict with a `model_type` (e.g. \"dinov2\").")
    # Where and with which version the encoder was saved, and its dtype, are not part of MedMO's model.
    encoder = {key: copy.deepcopy(value) for key, value in encoder.items() if key not in _ENCODER_KEYS_NOT_KEPT}
    settings = {key: value for key, value in encoder.items() if key != "model_type"}
    try:
        built = AutoConfig.for_model(encoder["model_type"], **settings)
    except (KeyError, ValueError) as error:
        raise ValueError(f"{where}: transformers cannot build a {encoder['model_type']!r} config ({error}).") from None
    if getattr(built, "vision_config", None) is not None:
        raise ValueError(
            f"{where}: {encoder['model_type']!r} is a dual text-image model; give its vision tower's config "
            f"(e.g. `SiglipVisionConfig`, model_type \"siglip_vision_model\")."
        )
    patch_size, hidden_size = getattr(built, "patch_size", None), getattr(built, "hidden_size", None)
    if not isinstance(patch_size, int) or not isinstance(hidden_size, int):
        raise ValueError(f"{where}: a {encoder['model_type']!r} config has no integer `patch_size` / `hidden_size`; "
                         "use a ViT-style vision encoder (DINOv2, SigLIP or CLIP vision, ViT).")  # fmt: skip
    image_size = spec.get("image_size") or getattr(built, "image_size", None)
    if not isinstance(image_size, int) or image_size <= 0 or image_size % patch_size:
        raise ValueError(f"{where}: image_size {image_size!r} must be a positive multiple of the encoder's patch_size {patch_size}.")
    for name in ("image_mean", "image_std"):
        if name not in spec:
            raise ValueError(f"{where} lacks `{name}`: give the encoder's normalisation (its preprocessor_config.json "
                             "has it; `medmo attach-aux` copies it from there).")  # fmt: skip
    feature_layer = spec.get("feature_layer")
    layers = getattr(built, "num_hidden_layers", None)
    if feature_layer is not None and (not isinstance(feature_layer, int) or (layers and not -layers - 1 <= feature_layer <= layers)):
        raise ValueError(f"{where}: feature_layer {feature_layer!r} must be None (the encoder's output) or an index into "
                         f"its hidden states (0 = embeddings ... {layers}).")  # fmt: skip
    return {
        "config": encoder,
        "image_size": image_size,
        "image_mean": _three_floats(spec["image_mean"], "image_mean"),
        "image_std": _three_floats(spec["image_std"], "image_std"),
        "feature_layer": feature_layer,
    }


def aux_vision_settings(value) -> dict | None:
    """`aux_vision` in its complete form: `{"encoders": [...], "processor_image_mean": [...],
    "processor_image_std": [...]}`, each encoder with every key filled in. Accepts that form, a list
    of encoder dicts, or one encoder dict; raises `ValueError` naming the field that is wrong."""
    if value is None:
        return None
    if isinstance(value, (PretrainedConfig, list, tuple)) or (isinstance(value, dict) and "config" in value):
        value = {"encoders": value if isinstance(value, (list, tuple)) else [value]}
    if not isinstance(value, dict) or not value.get("encoders"):
        raise ValueError(f"aux_vision must be a dict with a non-empty `encoders` list (or a list of encoders), got {value!r}.")
    unknown = set(value) - {"encoders", "processor_image_mean", "processor_image_std"}
    if unknown:
        raise ValueError(f"aux_vision has unknown keys {sorted(unknown)}; allowed: encoders, processor_image_mean, processor_image_std.")
    return {
        "encoders": [_aux_encoder_settings(spec, position) for position, spec in enumerate(value["encoders"])],
        "processor_image_mean": _three_floats(value.get("processor_image_mean", QWEN3VL_IMAGE_MEAN), "processor_image_mean"),
        "processor_image_std": _three_floats(value.get("processor_image_std", QWEN3VL_IMAGE_STD), "processor_image_std"),
    }


class MedMOConfig(Qwen3VLConfig):
    r"""
    Configuration of a MedMO model: a Qwen3-VL configuration with `model_type="medmo"`.

    Every argument is passed to [`Qwen3VLConfig`]; MedMO checks the shapes that Qwen3-VL would
    otherwise only reject deep inside a forward pass.

    Args:
        text_config (`dict` or `Qwen3VLTextConfig`, *optional*, defaults to `None`):
            The language model: sizes, vocabulary and M-RoPE settings (`rope_scaling` /
            `rope_parameters` with `mrope_section`, three integers summing to `head_dim // 2`).
            With both sub-configs `None`, the MedMO-8B shapes (see [`MedMOConfig.from_preset`]).
        vision_config (`dict` or `Qwen3VLVisionConfig`, *optional*, defaults to `None`):
            The vision tower. Each `deepstack_visual_indexes` entry must name a layer below `depth`,
            and `out_hidden_size` must equal the language model's `hidden_size`.
        image_token_id (`int`, *optional*, defaults to 151655):
            Id of `<|image_pad|>`. Read it from the tokenizer when building a model with a new one.
        video_token_id (`int`, *optional*, defaults to 151656):
            Id of `<|video_pad|>`.
        vision_start_token_id (`int`, *optional*, defaults to 151652):
            Id of `<|vision_start|>`.
        vision_end_token_id (`int`, *optional*, defaults to 151653):
            Id of `<|vision_end|>`.
        tie_word_embeddings (`bool`, *optional*, defaults to `False`):
            Share the input embedding with `lm_head` (MedMO-4B does, MedMO-8B does not).
        aux_vision (`dict` or `list`, *optional*, defaults to `None`):
            Auxiliary vision encoders (stage i of the paper: e.g. a radiology DINOv2 such as RAD-DINO, or
            a SigLIP-family medical encoder) whose features are projected and added to Qwen3-VL's image
            tokens. `None` (the default, and every published checkpoint) is plain Qwen3-VL, and the key is
            then absent from `config.json`. Otherwise `{"encoders": [...], "processor_image_mean": [...],
            "processor_image_std": [...]}` (a list of encoders, or one encoder, is accepted too), each
            encoder a dict with `config` (any transformers ViT-style vision config or its dict, with
            `model_type`), `image_size` (square input side; defaults to the encoder config's),
            `image_mean` / `image_std` (its normalisation, required) and `feature_layer` (`None` for the
            encoder's output, or an index into its hidden states). `processor_image_*` is the MedMO
            processor's normalisation (Qwen3-VL's 0.5 / 0.5 by default), undone to recover pixels.
            `medmo attach-aux` writes all of it from a pretrained encoder folder.
        **kwargs:
            Any other [`PretrainedConfig`] argument.

    Example:

    ```python
    >>> from medmo import MedMOConfig, MedMOForConditionalGeneration

    >>> # The shapes of the published MedMO-8B checkpoint
    >>> config = MedMOConfig.from_preset("medmo-8b")
    >>> config.text_config.hidden_size
    4096

    >>> # A tiny random model for tests and demos
    >>> model = MedMOForConditionalGeneration(MedMOConfig.from_preset("tiny"))

    >>> # ... with a small random DINOv2 as auxiliary encoder (its projector starts at zero)
    >>> dinov2 = {"model_type": "dinov2", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
    ...           "intermediate_size": 64, "patch_size": 8, "image_size": 32}
    >>> config = MedMOConfig.from_preset("tiny", aux_vision=[{"config": dinov2, "image_mean": [0.5] * 3, "image_std": [0.25] * 3}])
    >>> config.aux_vision["encoders"][0]["image_size"]
    32

    ```
    """

    model_type = "medmo"

    def __init__(
        self,
        text_config=None,
        vision_config=None,
        image_token_id=151655,
        video_token_id=151656,
        vision_start_token_id=151652,
        vision_end_token_id=151653,
        tie_word_embeddings=False,
        aux_vision=None,
        **kwargs,
    ):
        # A Qwen3-VL config.json says "qwen3_vl"; loaded into this class it is a MedMO config.
        kwargs.pop("model_type", None)
        # transformers fills rope defaults into the dicts it is given; copies keep the caller's
        # dict (e.g. the output of `to_dict`) unchanged, so serialisation round-trips exactly.
        text_config, vision_config = copy.deepcopy(text_config), copy.deepcopy(vision_config)
        if isinstance(text_config, dict):
            text_config = _with_both_rope_spellings(text_config)
        if text_config is None and vision_config is None:
            text_config = copy.deepcopy(PRESETS["medmo-8b"]["text_config"])
            vision_config = copy.deepcopy(PRESETS["medmo-8b"]["vision_config"])
        super().__init__(
            text_config=text_config,
            vision_config=vision_config,
            image_token_id=image_token_id,
            video_token_id=video_token_id,
            vision_start_token_id=vision_start_token_id,
            vision_end_token_id=vision_end_token_id,
            tie_word_embeddings=tie_word_embeddings,
            aux_vision=aux_vision_settings(aux_vision),
            **kwargs,
        )
        self._check_shapes()

    @classmethod
    def from_dict(cls, config_dict: dict, **kwargs):
        """As in `PretrainedConfig`, on a copy: transformers 4.57 writes `attn_implementation` into
        the dict it is given, which broke `from_dict(c.to_dict()).to_dict() == c.to_dict()`."""
        return super().from_dict(copy.deepcopy(config_dict), **kwargs)

    @classmethod
    def from_preset(cls, name: str, **overrides) -> "MedMOConfig":
        """Build the configuration of a named size: `"medmo-4b"`, `"medmo-8b"` or `"tiny"`.

        Keyword overrides are merged into the preset, nested dicts key by key, e.g.
        `MedMOConfig.from_preset("tiny", text_config={"vocab_size": 400}, image_token_id=390)`.
        """
        if name not in PRESETS:
            raise ValueError(f"Unknown MedMO preset {name!r}; choose one of {sorted(PRESETS)}.")
        return cls(**_deep_update(PRESETS[name], overrides))

    def _check_shapes(self) -> None:
        text, vision = self.text_config, self.vision_config
        depth = _field(vision, "depth")
        for position, index in enumerate(_field(vision, "deepstack_visual_indexes") or []):
            if not 0 <= index < depth:
                raise ValueError(
                    f"vision_config.deepstack_visual_indexes[{position}] = {index} names no layer of a vision "
                    f"tower with vision_config.depth = {depth}; use indexes in [0, {depth - 1}]."
                )
        section = _rope_dict(text).get("mrope_section")
        head_dim = _field(text, "head_dim") or _field(text, "hidden_size") // _field(text, "num_attention_heads")
        if section is not None and (len(section) != 3 or sum(section) != head_dim // 2):
            raise ValueError(
                f"text_config.rope_parameters.mrope_section = {list(section)} must hold three integers (time, "
                f"height, width) summing to text_config.head_dim // 2 = {head_dim // 2}."
            )
        if _field(vision, "out_hidden_size") != _field(text, "hidden_size"):
            raise ValueError(
                f"vision_config.out_hidden_size = {_field(vision, 'out_hidden_size')} must equal "
                f"text_config.hidden_size = {_field(text, 'hidden_size')}: the merger feeds the language model."
            )

    def to_dict(self) -> dict:
        """Serialize so that transformers 4.57 and 5.x both read the file back.

        5.x writes M-RoPE settings only under `rope_parameters`; 4.57 reads `rope_theta` and
        `rope_scaling`, so both spellings are written. The vision tower's type is written as
        `qwen3_vl_vision`, the name 5.x resolves to the vision-only config. A saved model's
        `auto_map` lists every Auto class that can load it. `aux_vision` is written only when set.
        """
        output = super().to_dict()
        if output.get("aux_vision") is None:  # a plain MedMO (every published checkpoint) writes today's file
            output.pop("aux_vision", None)
        _with_both_rope_spellings(output.get("text_config", {}))
        output.get("vision_config", {})["model_type"] = "qwen3_vl_vision"
        auto_map = output.get("auto_map")
        if auto_map and any(key in auto_map for key in MODEL_AUTO_MAP):
            # transformers writes only the Auto class the saved model was registered for; loaders
            # ask by AutoModel, AutoModelForImageTextToText (5.x) or AutoModelForVision2Seq (4.57).
            for key, target in MODEL_AUTO_MAP.items():
                auto_map.setdefault(key, target)
        return output


# `save_pretrained` then writes this file and its `auto_map` entry next to the weights.
MedMOConfig.register_for_auto_class()

__all__ = ["MedMOConfig", "PRESETS", "aux_vision_settings"]
