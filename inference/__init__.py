# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Using a trained MedMO: batch prediction on unlabeled studies, DICOM SR output, serving, vLLM, quantization.

- `medmo.inference.predict`: `medmo predict`, images / DICOM / series / NIfTI -> predictions, overlays, SR;
- `medmo.inference.dicom_sr`: boxes as DICOM Structured Reports (highdicom);
- `medmo.inference.serve`: `medmo serve`, transformers' OpenAI-compatible server with MedMO loaded;
- `medmo.inference.client`: send an image with the `openai` package, get boxes in original pixels;
- `medmo.inference.vllm_plugin`: the `vllm.general_plugins` entry point (`vllm serve path/to/medmo-repo`);
- `medmo.inference.quantization`: int8 (CPU) and bitsandbytes 8/4-bit (CUDA) loading.

Each module imports its heavy dependencies (fastapi, highdicom, optimum-quanto, vllm) where they are used.
"""
