# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""MedMO repository folders: write them, convert Qwen3-VL folders into them, export them back.

A MedMO repository folder is what `from_pretrained` and the Hub expect: safetensors weights,
`config.json` with `model_type: medmo` and an `auto_map`, the remote-code files, processor and
tokenizer files, the chat template, `generation_config.json` and a model card. The folders
written here load under transformers 4.57 and 5.x alike.

Conversion never loads weights: shards are hard-linked (or copied across file systems) with
their index, so converting an 8B checkpoint takes seconds and a few MB of memory.
"""

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .configuration_medmo import MODEL_AUTO_MAP, MedMOConfig


PACKAGE_DIR = Path(__file__).resolve().parent
REMOTE_CODE_FILES = ("configuration_medmo.py", "modeling_medmo.py", "processing_medmo.py")
WEIGHT_INDEX = "model.safetensors.index.json"
SINGLE_WEIGHTS = "model.safetensors"
QWEN3VL_ARCHITECTURE = "Qwen3VLForConditionalGeneration"
MEDMO_ARCHITECTURE = "MedMOForConditionalGeneration"
# Everything but weights, config and code that a Qwen3-VL / MedMO folder carries.
PROCESSOR_FILES = (
    "preprocessor_config.json",
    "processor_config.json",
    "video_preprocessor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "chat_template.jinja",
    "chat_template.json",
    "generation_config.json",
)


class CheckpointError(ValueError):
    """A folder is not a usable Qwen3-VL / MedMO checkpoint; the message says what is wrong."""


@contextmanager
def _atomic_output(output_dir: Path) -> Iterator[Path]:
    """Write into a temporary sibling folder and move it to `output_dir` only on success."""
    output_dir = Path(output_dir)
    if output_dir.exists() and any(output_dir.iterdir()):
        raise CheckpointError(f"{output_dir} exists and is not empty; choose a new output folder.")
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.", dir=output_dir.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if output_dir.exists():
        output_dir.rmdir()
    staging.rename(output_dir)


def fix_tokenizer_config_for_4x(folder: str | Path) -> None:
    """Make a 5.x-saved tokenizer readable by transformers 4.57.

    5.x writes the extra special tokens as a list under `extra_special_tokens`; 4.57 expects a
    dict there and reads the list from `additional_special_tokens`.
    """
    path = Path(folder) / "tokenizer_config.json"
    if not path.exists():
        return
    settings = json.loads(path.read_text(encoding="utf-8"))
    extra = settings.get("extra_special_tokens")
    if isinstance(extra, list):
        settings["additional_special_tokens"] = settings.pop("extra_special_tokens")
        path.write_text(json.dumps(settings, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def save_medmo_folder(model, processor, output_dir: str | Path, model_card: str | None = None) -> Path:
    """Save `model` and `processor` as a complete MedMO repository folder: the one writer of such
    folders (`medmo build-tiny`, the demo and every training run use it).

    The folder holds safetensors weights, the remote-code files with a full `auto_map`, the
    processor (image processor, tokenizer, chat template, readable by transformers 4.57) and, when
    given, `README.md`. `model=None` completes a folder whose weights are already there (a
    trainer's `save_model`, which also handles adapters and sharded training).
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if model is not None:
        model.save_pretrained(output_dir, safe_serialization=True)
    processor.save_pretrained(output_dir)
    fix_tokenizer_config_for_4x(output_dir)
    for name in REMOTE_CODE_FILES:  # the processor imports the box and image modules too
        copy_code_files(name, output_dir)
    if model_card is not None:
        (output_dir / "README.md").write_text(model_card, encoding="utf-8")
    return output_dir


def copy_code_files(name: str, output_dir: Path) -> None:
    """Copy remote-code file `name` and every file it imports relatively into `output_dir`."""
    from transformers.dynamic_module_utils import get_relative_import_files

    source = PACKAGE_DIR / name
    for path in [source, *map(Path, get_relative_import_files(str(source)))]:
        shutil.copyfile(path, output_dir / path.name)


# --------------------------------------------------------------------------- conversion


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing.") from None
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} is not valid JSON ({error}).") from None


def weight_files(folder: Path) -> tuple[list[str], str | None]:
    """The safetensors files a checkpoint folder needs, and its index file if sharded.

    Raises `CheckpointError` when the weights are absent, pickled, or the index names shards
    that are not there.
    """
    index_path = folder / WEIGHT_INDEX
    if index_path.exists():
        index = _read_json(index_path)
        weight_map = index.get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise CheckpointError(f"{index_path} has no `weight_map`.")
        shards = sorted(set(weight_map.values()))
        missing = [shard for shard in shards if not (folder / shard).is_file()]
        if missing:
            raise CheckpointError(
                f"{index_path} names {len(missing)} shard(s) absent from {folder}: {', '.join(missing[:5])}. "
                "Download the complete checkpoint (all model-*.safetensors files)."
            )
        return shards, WEIGHT_INDEX
    if (folder / SINGLE_WEIGHTS).is_file():
        return [SINGLE_WEIGHTS], None
    if any(folder.glob("*.bin")) or any(folder.glob("*.pt")):
        raise CheckpointError(
            f"{folder} holds pickled weights (*.bin / *.pt); MedMO loads safetensors only. Convert them first, "
            "e.g. load with transformers and `save_pretrained(..., safe_serialization=True)`."
        )
    raise CheckpointError(f"{folder} has no {SINGLE_WEIGHTS} or {WEIGHT_INDEX}.")


def _link_or_copy(source: Path, target: Path, link: bool) -> None:
    if link:
        try:
            os.link(source, target)
            return
        except OSError:  # another file system, or links not allowed: copy instead
            pass
    shutil.copyfile(source, target)  # streams through the kernel; the file is never held in memory


def _copy_side_files(source: Path, target: Path, weights: list[str], index: str | None, link: bool) -> None:
    for name in [*weights, *([index] if index else [])]:
        _link_or_copy(source / name, target / name, link)
    for name in PROCESSOR_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, target / name)


def _check_model_type(config: dict, folder: Path, expected: tuple[str, ...]) -> None:
    model_type = config.get("model_type")
    if model_type not in expected:
        raise CheckpointError(
            f"{folder}/config.json has model_type {model_type!r}; expected {' or '.join(map(repr, expected))}. "
            "Only Qwen3-VL-format checkpoints (MedMO, Qwen3-VL-*-Instruct) can be converted."
        )
    for key in ("text_config", "vision_config"):
        if not isinstance(config.get(key), dict):
            raise CheckpointError(f"{folder}/config.json lacks `{key}`; it is not a Qwen3-VL checkpoint.")


def medmo_config_dict(qwen3vl_config: dict) -> dict:
    """The MedMO `config.json` for a Qwen3-VL (or MedMO) `config.json`.

    Serialised through `MedMOConfig`, never copied: a folder saved by one transformers version
    carries only its own RoPE spelling, and the written file must load under 4.57 and 5.x alike.
    """
    settings = {key: value for key, value in qwen3vl_config.items() if key not in ("auto_map", "architectures", "model_type")}
    try:
        config = MedMOConfig(**settings)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"config.json does not describe a valid MedMO model: {error}") from None
    config.architectures = [MEDMO_ARCHITECTURE]
    config.auto_map = {"AutoConfig": "configuration_medmo.MedMOConfig", **MODEL_AUTO_MAP}
    return config.to_dict()


def qwen3vl_config_dict(medmo_config: dict) -> dict:
    """The plain Qwen3-VL `config.json` for a MedMO one, readable by 4.57, 5.x and engines that
    know only Qwen3-VL (same serialisation as `medmo_config_dict`, then the Qwen3-VL names)."""
    config = {key: value for key, value in medmo_config_dict(medmo_config).items() if key != "auto_map"}
    config.update(model_type="qwen3_vl", architectures=[QWEN3VL_ARCHITECTURE])
    return config


def write_config(config: dict, folder: Path) -> None:
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _processor_files_to_medmo(folder: Path) -> None:
    """Point the processor files at MedMOProcessor (image-only without torchvision)."""
    auto_map = {"AutoProcessor": "processing_medmo.MedMOProcessor"}
    processor_config = folder / "processor_config.json"
    settings = _read_json(processor_config) if processor_config.exists() else {}
    settings.update(processor_class="MedMOProcessor", auto_map=auto_map)
    processor_config.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    for name in ("preprocessor_config.json", "tokenizer_config.json"):
        path = folder / name
        if path.exists():
            settings = _read_json(path)
            if "processor_class" in settings:
                settings["processor_class"] = "MedMOProcessor"
                settings["auto_map"] = {**settings.get("auto_map", {}), **auto_map}
                path.write_text(json.dumps(settings, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    fix_tokenizer_config_for_4x(folder)
    if not (folder / "chat_template.jinja").exists() and not (folder / "chat_template.json").exists():
        shutil.copyfile(PACKAGE_DIR / "chat_template.jinja", folder / "chat_template.jinja")


def convert_qwen3vl_to_medmo(
    source: str | Path, output_dir: str | Path, model_card: str | None = None, link: bool = True
) -> Path:
    """Turn a Qwen3-VL-format folder (MedMO weights or Qwen3-VL-Instruct) into a MedMO repository.

    Weight shards are hard-linked (`link=True`, falling back to a copy across file systems) or
    copied, never loaded. Nothing is left at `output_dir` if anything fails.
    """
    source, output_dir = Path(source), Path(output_dir)
    if not source.is_dir():
        raise CheckpointError(f"{source} is not a folder; pass a downloaded Qwen3-VL checkpoint folder.")
    qwen_config = _read_json(source / "config.json")
    _check_model_type(qwen_config, source, ("qwen3_vl", "medmo"))
    weights, index = weight_files(source)
    config = medmo_config_dict(qwen_config)
    with _atomic_output(output_dir) as staging:
        _copy_side_files(source, staging, weights, index, link)
        write_config(config, staging)
        for name in REMOTE_CODE_FILES:
            copy_code_files(name, staging)
        _processor_files_to_medmo(staging)
        if model_card is None:
            from .model_card import conversion_card

            model_card = conversion_card(source, config)
        (staging / "README.md").write_text(model_card, encoding="utf-8")
    return output_dir


def export_medmo_to_qwen3vl(source: str | Path, output_dir: str | Path, link: bool = True) -> Path:
    """Write a MedMO folder as a plain Qwen3-VL one, for engines that know only Qwen3-VL (vLLM, SGLang)."""
    source, output_dir = Path(source), Path(output_dir)
    if not source.is_dir():
        raise CheckpointError(f"{source} is not a folder; pass a MedMO checkpoint folder.")
    medmo_config = _read_json(source / "config.json")
    _check_model_type(medmo_config, source, ("medmo",))
    if medmo_config.get("aux_vision"):
        raise CheckpointError(
            f"{source} has an auxiliary vision encoder (config.json `aux_vision`). Qwen3-VL, and engines that know only "
            "Qwen3-VL (vLLM, SGLang), have no such module: its weights would be dropped and the model would see other "
            "image tokens than it was trained on. Serve this model with transformers instead."
        )
    weights, index = weight_files(source)
    config = qwen3vl_config_dict(medmo_config)
    with _atomic_output(output_dir) as staging:
        _copy_side_files(source, staging, weights, index, link)
        write_config(config, staging)
        _processor_files_to_qwen3vl(staging)
        if (source / "README.md").exists():
            shutil.copyfile(source / "README.md", staging / "README.md")
    return output_dir


def _processor_files_to_qwen3vl(folder: Path) -> None:
    for name in ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json"):
        path = folder / name
        if not path.exists():
            continue
        settings = _read_json(path)
        settings.pop("auto_map", None)
        if "processor_class" in settings:
            settings["processor_class"] = "Qwen3VLProcessor"
        path.write_text(json.dumps(settings, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
