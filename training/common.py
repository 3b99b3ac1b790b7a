# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""What the SFT and GRPO scripts share: model and processor set-up, data, and the end of a run
(the repository folder and the push, as trainer callbacks)."""

import copy
import logging
import sys
from pathlib import Path

from transformers import TrainerCallback

from medmo.checkpoint import save_medmo_folder
from medmo.loading import load_model, load_processor

from .data.loading import load_mixture, write_report
from .hub import HubPushCallback, recipe_from_argv, run_card
from .modules import aux_projector_names, freeze, lora_config, merge_adapter


logger = logging.getLogger("medmo.training")
# What a model card reports of the run: the final value of each.
REPORTED_METRICS = ("loss", "train_loss", "train_runtime", "mean_token_accuracy", "reward", "reward_std", "epoch")


def setup_logging(training_args) -> None:
    level = training_args.get_process_log_level() if hasattr(training_args, "get_process_log_level") else logging.INFO
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=level, stream=sys.stdout)


def model_and_processor(medmo_args, model_args, training_args):
    """The model (frozen parts applied) and processor (pixel limits applied), plus the LoRA config."""
    processor = load_processor(model_args.model_name_or_path, medmo_args.min_pixels, medmo_args.max_pixels)
    model = load_model(model_args.model_name_or_path, model_args.dtype, model_args.attn_implementation)
    if getattr(training_args, "activation_checkpointing", False) or getattr(training_args, "gradient_checkpointing", False):
        model.config.use_cache = False
    freeze(model, medmo_args.freeze_vision_tower, medmo_args.freeze_merger, medmo_args.freeze_language_model,
           aux_encoder=medmo_args.freeze_aux_encoder, aux_projector=medmo_args.freeze_aux_projector)  # fmt: skip
    to_save = aux_projector_names(model) if medmo_args.lora_aux_projector else None
    if medmo_args.lora_aux_projector and not to_save:
        raise ValueError("lora_aux_projector is set but the model has no auxiliary vision encoder (`medmo attach-aux` adds one).")
    peft_config = lora_config(medmo_args.lora_preset, model_args, modules_to_save=to_save)
    if to_save and peft_config is None:
        raise ValueError("lora_aux_projector applies to LoRA runs: set lora_preset (or use_peft), or freeze_aux_projector: false to train it without LoRA.")
    return model, processor, peft_config


def data(medmo_args, kind: str, seed: int):
    """Training and evaluation sets of the recipe, with their load reports."""
    train, reports = load_mixture(
        medmo_args.datasets, kind, medmo_args.data_dir, medmo_args.allow_test_splits, medmo_args.skip_bad_rows, seed
    )
    evaluation = None
    if medmo_args.eval_datasets:
        evaluation, eval_reports = load_mixture(
            medmo_args.eval_datasets, kind, medmo_args.data_dir, True, medmo_args.skip_bad_rows, seed
        )
        reports += eval_reports
    return train, evaluation, reports


def trainer_arguments(training_args):
    """The arguments the trainer runs with: the recipe's, less the trainer's own push (it would
    upload checkpoints and a card of its own); `HubPushCallback` pushes the finished folder instead.
    The recipe's arguments themselves are left as parsed."""
    arguments = copy.copy(training_args)
    arguments.push_to_hub = False
    return arguments


class RunFolderCallback(TrainerCallback):
    """When training ends: the complete MedMO repository folder in `output_dir` (weights or adapter,
    code, processor, model card, `data_report.json`) and, for LoRA runs with `merge_adapter`, the
    merged model in `<output_dir>/merged`. Holds the trainer, whose `save_model` gathers the weights
    on every process; the rest is written by the main process."""

    def __init__(self, trainer, processor, medmo_args, model_args, reports, stage: str, argv: list[str]):
        self.trainer, self.processor, self.reports, self.stage, self.argv = trainer, processor, reports, stage, argv
        self.medmo_args, self.model_args = medmo_args, model_args

    def on_train_end(self, args, state, control, **kwargs):
        trainer, medmo_args, model_args = self.trainer, self.medmo_args, self.model_args
        output_dir = Path(args.output_dir)
        trainer.save_model(str(output_dir))
        if not state.is_world_process_zero:
            return
        adapter = medmo_args.lora_preset is not None or getattr(model_args, "use_peft", False)
        metrics = {
            key: value
            for entry in state.log_history
            for key, value in entry.items()
            if key in REPORTED_METRICS or key.startswith(("eval_", "rewards/")) and key.endswith(("mean", "_loss")) or key.startswith("eval_")
        }
        recipe = recipe_from_argv(self.argv)
        base = model_args.model_name_or_path
        save_medmo_folder(None, self.processor, output_dir, run_card(self.stage, base, medmo_args, recipe, metrics, adapter=adapter))
        write_report(self.reports, output_dir)
        if adapter and medmo_args.merge_adapter:
            merged = merge_adapter(trainer.model)
            save_medmo_folder(merged, self.processor, output_dir / "merged", run_card(self.stage, base, medmo_args, recipe, metrics))


def add_run_end(trainer, processor, medmo_args, model_args, training_args, reports, stage: str, argv: list[str]) -> None:
    """The callbacks that end a run: write the folder, then push it when the recipe asks to
    (`push_to_hub`, `hub_model_id`, `hub_token`, `hub_private_repo`)."""
    trainer.add_callback(RunFolderCallback(trainer, processor, medmo_args, model_args, reports, stage, argv))
    if training_args.push_to_hub:
        output_dir = Path(training_args.output_dir)
        trainer.add_callback(HubPushCallback(output_dir, training_args.hub_model_id or output_dir.name, training_args.hub_token,
                                             training_args.hub_private_repo))  # fmt: skip
