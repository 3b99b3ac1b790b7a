# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""What inference borrows from the rest of MedMO, in one place.

`medmo predict`, `medmo serve` and the benches load models, generate and read medical files only
through the names below: the evaluation harness's loader, batched generation and prediction
records, and the medical-image readers. When those move, this is the file to re-point.
"""

from medmo.evaluation.runner import MAX_NEW_TOKENS, TransformersBackend, VLLMBackend, generate_batch, prediction_record
from medmo.evaluation.runner import load_model as _load_full_precision
from medmo.evaluation.runner import load_processor
from medmo.evaluation.tasks import Sample
from medmo.medical_images import _is_dicom_file as is_dicom_file
from medmo.medical_images import _is_nifti as is_nifti
from medmo.medical_images import canonical, load_image, load_volume_slices, read_dicom, read_dicom_series_datasets, read_volume, volume_planes


def load_model(path: str, device: str | None = None, quantization: str | None = None):
    """`(model, processor)` for inference from a MedMO folder, Hub id or LoRA adapter folder.

    `quantization` is None (bf16 + SDPA on a GPU, float32 on a CPU: the evaluation harness's
    loader) or one of `medmo.inference.quantization.METHODS`.
    """
    if quantization in (None, "none"):
        return _load_full_precision(path, device)
    from .quantization import load_quantized

    return load_quantized(path, quantization, device)


__all__ = [
    "MAX_NEW_TOKENS",
    "Sample",
    "TransformersBackend",
    "VLLMBackend",
    "canonical",
    "generate_batch",
    "is_dicom_file",
    "is_nifti",
    "load_image",
    "load_model",
    "load_processor",
    "load_volume_slices",
    "prediction_record",
    "read_dicom",
    "read_dicom_series_datasets",
    "read_volume",
    "volume_planes",
]
