# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""The optional dependency groups ("extras") and the check that names a missing one.

`pip install medmo` gives the model, its processor and the checkpoint tools. The commands beyond
that need an extra (`pyproject.toml` lists the same packages; a test keeps the two equal):

| extra | commands |
|---|---|
| `medical` | DICOM and NIfTI input (the processor reads PNG / JPEG / TIFF without it) |
| `data` | `medmo data convert`, `medmo data phantom` |
| `train` | `python -m medmo.training.sft`, `python -m medmo.training.grpo` |
| `eval` | `medmo eval` |
| `all` | all of them, and `medmo demo` |

A command whose extra is missing stops with `medmo eval needs the eval extra (missing: sacrebleu):
pip install "medmo[eval]"`.
"""

import importlib.util
import sys


# extra -> {import name: requirement}. The import names are what the extra's commands import.
EXTRAS: dict[str, dict[str, str]] = {
    "medical": {"pydicom": "pydicom>=3", "nibabel": "nibabel>=5", "pylibjpeg": "pylibjpeg", "libjpeg": "pylibjpeg-libjpeg",
                "jpeg_ls": "pyjpegls"},
    "data": {"tqdm": "tqdm", "pyarrow": "pyarrow"},
    "train": {"trl": "trl>=1.16", "peft": "peft>=0.21", "datasets": "datasets>=5", "accelerate": "accelerate", "scipy": "scipy",
              "tqdm": "tqdm", "pyarrow": "pyarrow"},
    "eval": {"scipy": "scipy", "sacrebleu": "sacrebleu", "rouge_score": "rouge-score", "pycocoevalcap": "pycocoevalcap",
             "pycocotools": "pycocotools", "matplotlib": "matplotlib", "tqdm": "tqdm", "pyarrow": "pyarrow", "peft": "peft>=0.21"},
}  # fmt: skip


class MissingExtraError(ImportError):
    """A command needs packages of an extra that is not installed; the message names the install."""


def _importable(name: str) -> bool:
    if name in sys.modules:  # imported already, or blocked (None)
        return sys.modules[name] is not None
    return importlib.util.find_spec(name) is not None


def missing_modules(extra: str) -> list[str]:
    """The import names of `extra` that cannot be imported here."""
    if extra not in EXTRAS:
        raise ValueError(f"Unknown extra {extra!r}; extras: {', '.join(EXTRAS)}.")
    return [name for name in EXTRAS[extra] if not _importable(name)]


def missing_extra(extra: str, command: str, error: ImportError | None = None) -> MissingExtraError:
    """The error to raise when `command` lacks packages of `extra`."""
    missing = missing_modules(extra) or ([error.name] if error is not None and error.name else [])
    detail = f"missing: {', '.join(missing)}" if missing else str(error)
    return MissingExtraError(f'{command} needs the {extra} extra ({detail}): pip install "medmo[{extra}]"')


def require_extra(extra: str, command: str) -> None:
    """Raise `MissingExtraError` naming the install when a package of `extra` is missing."""
    if missing_modules(extra):
        raise missing_extra(extra, command)


__all__ = ["EXTRAS", "MissingExtraError", "missing_extra", "missing_modules", "require_extra"]
