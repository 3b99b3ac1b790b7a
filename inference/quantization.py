# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Loading a MedMO repository with quantized language-model weights.

    medmo predict --model M --quantization bnb-4bit ...      # CUDA: 4-bit NF4, vision tower in bf16
    medmo serve M --quantization int8                         # CPU: int8 weight-only

Methods (`METHODS`):

- `"int8"`: int8 weight-only linear layers through optimum-quanto (`QuantoConfig(weights="int8")`),
  for CPUs (`pip install "medmo[quantization]"`). Activations stay float32.
- `"bnb-8bit"` / `"bnb-4bit"`: bitsandbytes LLM.int8() / NF4 with double quantization and bf16
  compute, for CUDA GPUs (`pip install "medmo[quantization-cuda]"`; recent bitsandbytes also runs
  on CPUs, slowly).

Every method keeps `KEEP_UNQUANTIZED` in full precision: the whole vision tower with its merger
and DeepStack mergers (`model.visual`, bf16 on a GPU), whose errors would shift every image token,
and the output head (`lm_head`), whose errors would change which token wins. Only the language
model's linear layers are quantized, which is where nearly all of an 8B MedMO's weights are.

Why quanto and not torchao on CPUs: with torchao installed, transformers 5.24 imports it whenever a
model class is imported (`quantizers/auto.py`), which cost 4.2 s per process here and printed
warnings about CUDA libraries; quanto is imported only when a model is quantized with it.
"""

import logging

import torch


logger = logging.getLogger(__name__)

METHODS = ("int8", "bnb-8bit", "bnb-4bit")
# Module-name prefixes (matched at module boundaries by transformers' quantizers) never quantized.
KEEP_UNQUANTIZED = ("model.visual", "lm_head")
_PACKAGES = {"int8": ("optimum.quanto", "optimum-quanto", "quantization"), "bnb-8bit": ("bitsandbytes", "bitsandbytes", "quantization-cuda"),
             "bnb-4bit": ("bitsandbytes", "bitsandbytes", "quantization-cuda")}  # fmt: skip


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"Unknown quantization {method!r}; use one of {', '.join(METHODS)} (or leave it out for full precision).")


def _require(method: str) -> None:
    import importlib.util

    module, package, extra = _PACKAGES[method]
    if importlib.util.find_spec(module.split(".")[0]) is None or importlib.util.find_spec(module) is None:
        raise ImportError(f"Quantization {method!r} needs {package}: pip install {package} (or pip install \"medmo[{extra}]\").")


def quantization_config(method: str):
    """The transformers quantization config of `method`, with the vision tower and output head kept."""
    _check_method(method)
    keep = list(KEEP_UNQUANTIZED)
    if method == "int8":
        from transformers import QuantoConfig

        return QuantoConfig(weights="int8", modules_to_not_convert=keep)
    from transformers import BitsAndBytesConfig

    if method == "bnb-8bit":
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=keep)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.bfloat16, llm_int8_skip_modules=keep)  # fmt: skip


def kept_modules(model) -> list[str]:
    """Names of the modules `KEEP_UNQUANTIZED` names in `model` (each must exist: a renamed module
    would silently be quantized)."""
    names = {name for name, _ in model.named_modules()}
    missing = [prefix for prefix in KEEP_UNQUANTIZED if prefix not in names]
    if missing:
        raise ValueError(f"{type(model).__name__} has no module {missing}; the skip list no longer matches the model's module names.")
    return list(KEEP_UNQUANTIZED)


def load_for_inference(path: str, device: str | None = None, quantization: str | None = None):
    """`(model, processor)` for inference from a MedMO folder, Hub id or LoRA adapter folder, in
    evaluation mode. `quantization` is None (bf16 + SDPA on a GPU, float32 on a CPU) or one of
    `METHODS`; `device` defaults to CUDA when available."""
    from medmo.loading import load_model, load_processor

    if quantization in (None, "none"):
        return load_model(path, device=device or "auto"), load_processor(path)
    return load_quantized(path, quantization, device)


def load_quantized(path: str, method: str, device: str | None = None):
    """`(model, processor)` with the language model's linear layers quantized by `method`.

    `device` defaults to CUDA when available. bitsandbytes methods load the unquantized parts in
    bf16; `int8` (CPU) keeps them in float32.
    """
    _check_method(method)
    _require(method)
    from medmo.loading import load_model, load_processor

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if method.startswith("bnb") and device == "cpu":
        logger.warning("bitsandbytes on a CPU runs, but slowly; use --quantization int8 on CPUs.")
    dtype = torch.bfloat16 if method.startswith("bnb") else torch.float32
    model = load_model(path, dtype=dtype, device_map=device, quantization_config=quantization_config(method))
    kept_modules(model)
    return model.eval(), load_processor(path)


def weight_bytes(model) -> int:
    """Bytes held by the model's parameters and buffers, quantized tensors counted at their packed size."""
    total = 0
    for tensor in [*model.parameters(), *model.buffers()]:
        total += _tensor_bytes(tensor)
    return total


def _tensor_bytes(tensor) -> int:
    # Quantized weights are tensor subclasses wrapping packed data and scales: count what they hold.
    inner = getattr(tensor, "__tensor_flatten__", None)
    if inner is not None:
        names, _ = inner()
        return sum(_tensor_bytes(getattr(tensor, name)) for name in names)
    return tensor.numel() * tensor.element_size()


__all__ = ["KEEP_UNQUANTIZED", "METHODS", "kept_modules", "load_for_inference", "load_quantized", "quantization_config", "weight_bytes"]
