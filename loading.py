# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Loading a model and its processor: the one loader training, evaluation, the demo and the CLI use.

`load_model` and `load_processor` take a MedMO folder or Hub id, a plain Qwen3-VL checkpoint (the
same weights, loaded into the MedMO classes), or a LoRA adapter folder (loaded onto its base model,
merged by default; the processor is the adapter's when it saved one, else its base's).

>>> from medmo.loading import load_model, load_processor
>>> model = load_model("models/medmo-8b", device="auto")  # doctest: +SKIP
>>> processor = load_processor("models/medmo-8b", max_pixels=1280 * 1280)  # doctest: +SKIP
"""

import json
from pathlib import Path


ADAPTER_CONFIG = "adapter_config.json"


def adapter_base(name_or_path: str) -> str | None:
    """The base model a LoRA adapter folder was trained on, or None for a model folder / Hub id."""
    config = Path(name_or_path) / ADAPTER_CONFIG
    return json.loads(config.read_text(encoding="utf-8"))["base_model_name_or_path"] if config.is_file() else None


def _dtype(dtype):
    """`None`, `"auto"`, a torch dtype or its name (`"bfloat16"`) -> what `from_pretrained` takes."""
    import torch

    if dtype is None or dtype == "auto" or isinstance(dtype, torch.dtype):
        return dtype
    value = getattr(torch, str(dtype), None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"Unknown dtype {dtype!r}; use 'auto', 'bfloat16', 'float16' or 'float32'.")
    return value


def load_model(name_or_path: str, dtype=None, attn_implementation: str | None = None, device: str | None = None,
               merge_adapter: bool = True, **kwargs):  # fmt: skip
    """A MedMO model from a MedMO folder, a plain Qwen3-VL checkpoint or a LoRA adapter folder.

    `device=None` leaves the model where `from_pretrained` puts it, in training mode (trainers
    place it); a device (`"cpu"`, `"cuda"`, or `"auto"`: CUDA when there is one) moves it there in
    evaluation mode, with inference defaults unless `dtype` / `attn_implementation` say otherwise:
    bf16 and SDPA attention on a GPU, float32 on a CPU. An adapter is merged into its base unless
    `merge_adapter=False` (then a `PeftModel` is returned).
    """
    import torch

    from medmo.modeling_medmo import MedMOForConditionalGeneration

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device is not None and dtype is None:
        dtype = torch.bfloat16 if str(device).startswith("cuda") else torch.float32
        attn_implementation = attn_implementation or ("sdpa" if str(device).startswith("cuda") else None)
    settings = {"dtype": _dtype(dtype), "attn_implementation": attn_implementation, **kwargs}
    base = adapter_base(name_or_path)
    if base is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(MedMOForConditionalGeneration.from_pretrained(base, **settings), str(name_or_path))
        if merge_adapter:
            model = model.merge_and_unload()
    else:
        model = MedMOForConditionalGeneration.from_pretrained(name_or_path, **settings)
    if device is not None:
        model = model.to(device).eval()
    return model


def load_processor(name_or_path: str, min_pixels: int | None = None, max_pixels: int | None = None):
    """The MedMO processor of a checkpoint (MedMO or plain Qwen3-VL, or a LoRA adapter's base when the
    adapter folder has none), with the given pixel limits (e.g. the training stage's)."""
    from medmo.processing_medmo import MedMOProcessor

    base = adapter_base(name_or_path)
    if base is not None and not (Path(name_or_path) / "processor_config.json").exists():
        name_or_path = base
    processor = MedMOProcessor.from_pretrained(name_or_path)
    set_pixel_limits(processor, min_pixels, max_pixels)
    return processor


def set_pixel_limits(processor, min_pixels: int | None, max_pixels: int | None) -> None:
    """Set the resolution images are resized to (pixel count bounds), e.g. 768*768 for stage 1."""
    image_processor = processor.image_processor
    size = dict(image_processor.size) if image_processor.size else {}
    if min_pixels is not None:
        size["shortest_edge"] = int(min_pixels)
    if max_pixels is not None:
        size["longest_edge"] = int(max_pixels)
    if size.get("shortest_edge", 0) > size.get("longest_edge", float("inf")):
        raise ValueError(f"min_pixels {size['shortest_edge']} exceeds max_pixels {size['longest_edge']}.")
    image_processor.size = size
    for name, value in (("min_pixels", min_pixels), ("max_pixels", max_pixels)):
        if value is not None and hasattr(image_processor, name):  # transformers 4.57 keeps both spellings
            setattr(image_processor, name, int(value))


__all__ = ["adapter_base", "load_model", "load_processor", "set_pixel_limits"]
