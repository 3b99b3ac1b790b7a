# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""MedMO for vLLM: a `vllm.general_plugins` entry point, so `vllm serve path/to/medmo-repo` works.

    pip install vllm "medmo @ ..."                # in the GPU machine's environment
    vllm serve path/to/medmo-repo --tensor-parallel-size 2

vLLM picks its implementation from `config.json`'s `architectures` and ignores remote code for the
model class. A MedMO repository says `MedMOForConditionalGeneration` and `model_type: medmo`, which
vLLM does not know. MedMO is Qwen3-VL with identical weights, so `register` (run by vLLM in every
process it starts, before it reads the config) maps MedMO onto vLLM's own Qwen3-VL:

- `ModelRegistry.register_model("MedMOForConditionalGeneration",
  "vllm.model_executor.models.qwen3_vl:Qwen3VLForConditionalGeneration")` (lazy: the class is
  imported when vLLM needs it; same tensor names, so the weights load unchanged);
- `AutoConfig.register("medmo", MedMOConfig)` and `AutoProcessor.register(MedMOConfig, MedMOProcessor)`,
  so the config and processor resolve without `--trust-remote-code`. `MedMOConfig` subclasses
  `Qwen3VLConfig` and `MedMOProcessor` subclasses `Qwen3VLProcessor`, the types vLLM's Qwen3-VL
  checks for (depending on the vLLM version it builds one or the other from the repository's
  files, with the same image settings). vLLM returns text, its boxes in the checkpoint's frame:
  map them with `medmo.inference.client.MedMOClient(processor="path/to/medmo-repo")`.

Registration is idempotent: vLLM may load plugins several times per process tree. Without MedMO
installed where vLLM runs, `medmo export-qwen3vl` writes a plain Qwen3-VL folder instead.
"""

ARCHITECTURE = "MedMOForConditionalGeneration"
VLLM_QWEN3_VL = "vllm.model_executor.models.qwen3_vl:Qwen3VLForConditionalGeneration"


def register() -> None:
    """Register MedMO's architecture, config and processor with vLLM and transformers."""
    from transformers import AutoConfig, AutoProcessor
    from vllm import ModelRegistry

    from medmo.configuration_medmo import MedMOConfig
    from medmo.processing_medmo import MedMOProcessor

    AutoConfig.register(MedMOConfig.model_type, MedMOConfig, exist_ok=True)
    AutoProcessor.register(MedMOConfig, MedMOProcessor, exist_ok=True)
    if ARCHITECTURE not in ModelRegistry.get_supported_archs():
        ModelRegistry.register_model(ARCHITECTURE, VLLM_QWEN3_VL)


__all__ = ["ARCHITECTURE", "VLLM_QWEN3_VL", "register"]
