# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""MedMO: a medical multimodal LLM on the Qwen3-VL architecture.

Importing `medmo` registers the MedMO classes with the transformers Auto APIs, so a MedMO folder
or Hub repository loads without `trust_remote_code`:

>>> import medmo  # noqa: F401
>>> from transformers import AutoModelForImageTextToText
>>> model = AutoModelForImageTextToText.from_pretrained("path/to/MedMO-8B")
"""

import transformers
from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText, AutoProcessor

from .configuration_medmo import PRESETS, MedMOConfig
from .modeling_medmo import MedMOForConditionalGeneration, MedMOModel, MedMOPreTrainedModel
from .processing_medmo import MedMOProcessor


__version__ = "0.1.0"


def _register_auto_classes() -> None:
    AutoConfig.register(MedMOConfig.model_type, MedMOConfig, exist_ok=True)
    AutoModel.register(MedMOConfig, MedMOModel, exist_ok=True)
    AutoModelForImageTextToText.register(MedMOConfig, MedMOForConditionalGeneration, exist_ok=True)
    if hasattr(transformers, "AutoModelForVision2Seq"):  # removed in transformers 5
        transformers.AutoModelForVision2Seq.register(MedMOConfig, MedMOForConditionalGeneration, exist_ok=True)
    AutoProcessor.register(MedMOConfig, MedMOProcessor, exist_ok=True)


_register_auto_classes()

__all__ = [
    "PRESETS",
    "MedMOConfig",
    "MedMOForConditionalGeneration",
    "MedMOModel",
    "MedMOPreTrainedModel",
    "MedMOProcessor",
]
