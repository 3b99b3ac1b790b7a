# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""The Hub side of a run: its model card, and the push of the finished folder.

`HubPushCallback` pushes at the end of training, after `RunFolderCallback`
(`medmo.training.common`) has written the complete folder, so the Hub gets exactly the folder that
was saved. Pushing goes through `huggingface_hub` (any `HF_ENDPOINT`). The token is read from the
arguments or the environment and never reaches a log, a card or an error message.
"""

import logging
import os
from pathlib import Path

import yaml
from transformers import TrainerCallback

from medmo.model_card import CardFacts, read_card_metadata, render_card


logger = logging.getLogger(__name__)
# Training-state files a pushed model repository does not need.
PUSH_IGNORE = ["checkpoint-*", "checkpoint-*/**", "runs/**", "*.pt", "*.pth", "*.bin", "rng_state*", "optimizer*", "scheduler*"]
DATA_CARDS_URL = "https://github.com/genmilab/MedMO/blob/main/data_cards"


def _dataset_names(specs) -> list[str]:
    return [str(spec.get("name") or Path(str(spec.get("path", "?"))).stem) for spec in specs or []]


def _metrics_table(metrics: dict) -> str:
    rows = [f"| {key} | {value:.4g} |" if isinstance(value, float) else f"| {key} | {value} |" for key, value in sorted(metrics.items())]
    return "| metric | value |\n|---|---|\n" + "\n".join(rows) if rows else "No metrics were logged."


def run_card(
    stage: str,
    base_model: str,
    medmo_args,
    recipe: dict,
    metrics: dict,
    adapter: bool = False,
) -> str:
    """The model card of a training run: base model, data sets (with their data cards), recipe, metrics."""
    base_card = read_card_metadata(Path(base_model) / "README.md") if Path(base_model).is_dir() else {}
    names = _dataset_names(medmo_args.datasets)
    data_lines = "\n".join(
        f"- `{name}`" + (f": [data card]({DATA_CARDS_URL}/{name}.md)" if spec.get("name") else " (local data)")
        for name, spec in zip(names, medmo_args.datasets or [])
    )
    kind = "a LoRA adapter for" if adapter else "a fine-tuned version of"
    sections = [
        f"## Training\n\nStage: {stage}. Data sets:\n\n{data_lines or '- none recorded'}",
        "## Recipe\n\n```yaml\n" + yaml.safe_dump(recipe, sort_keys=True) + "```",
        "## Results\n\n" + _metrics_table(metrics),
    ]
    if medmo_args.card_notes:
        sections.append("## Notes\n\n" + medmo_args.card_notes)
    facts = CardFacts(
        title=f"MedMO ({stage})",
        summary=f"This repository holds {kind} `{medmo_args.base_model_id or base_model}`, trained with MedMO's "
        f"{stage} recipe (TRL).",
        base_model=medmo_args.base_model_id or (base_card.get("base_model") if not Path(base_model).is_dir() else None) or base_model,
        license=base_card.get("license"),
        datasets=[name for name, spec in zip(names, medmo_args.datasets or []) if spec.get("name")],
        tags=["trl", stage.split()[0].lower()] + (["lora", "peft"] if adapter else []),
        sections=sections,
    )
    return render_card(facts)


def _secret(token: str | None) -> str | None:
    return token or os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")


def push_folder(folder: str | Path, repo_id: str, token: str | None = None, private: bool | None = None, message: str | None = None) -> str:
    """Create `repo_id` if needed and upload `folder` (training-state files left out). Returns the commit URL.

    Errors are re-raised with the token masked.
    """
    from huggingface_hub import HfApi

    secret = _secret(token)
    api = HfApi(token=secret)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo_id, folder_path=str(folder), ignore_patterns=PUSH_IGNORE, commit_message=message or "Upload MedMO"
        )
    except Exception as error:  # any failure: re-raise with the token removed from the message
        text = str(error).replace(secret, "***") if secret else str(error)
        raise RuntimeError(f"Pushing {folder} to {repo_id} failed: {text}") from None
    logger.info("pushed %s to %s", folder, repo_id)
    return str(getattr(commit, "commit_url", commit))


class HubPushCallback(TrainerCallback):
    """Pushes `folder` to `repo_id` when training ends (on the main process), as the last callback:
    add it after the one that writes the folder. The trainer itself must not push (it would upload
    checkpoints and a card of its own): run it with `push_to_hub=False` arguments."""

    def __init__(self, folder: str | Path, repo_id: str, token: str | None = None, private: bool | None = None):
        self.folder, self.repo_id, self.token, self.private = Path(folder), repo_id, token, private

    def on_train_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            url = push_folder(self.folder, self.repo_id, self.token, self.private)
            logger.info("pushed to %s", url)


def recipe_from_argv(argv: list[str]) -> dict:
    """The recipe as run: the `--config` YAML plus command-line overrides, token arguments removed."""
    overrides, config, tokens = {}, None, list(argv)
    while tokens:
        token = tokens.pop(0)
        if not token.startswith("--"):
            continue
        key, equals, value = token[2:].partition("=")
        if not equals:
            value = tokens.pop(0) if tokens and not tokens[0].startswith("--") else "true"
        if key == "config":
            config = value
        else:
            overrides[key] = value
    recipe = yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {} if config else {}
    recipe.update(overrides)
    return {key: value for key, value in recipe.items() if "token" not in key.lower()}


__all__ = ["PUSH_IGNORE", "HubPushCallback", "push_folder", "recipe_from_argv", "run_card"]
