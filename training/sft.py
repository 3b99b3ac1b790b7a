# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Supervised fine-tuning of MedMO (recipe stages 1-3, and LoRA fine-tuning on your own data).

    # one process (CPU or one GPU)
    python -m medmo.training.sft --config training/recipes/tiny/stage1_reports.yaml
    # 8 GPUs, DeepSpeed ZeRO-2 (the authors' SFT setting)
    accelerate launch --config_file training/accelerate_configs/zero2.yaml -m medmo.training.sft \\
        --config training/recipes/medmo-8b/stage1_sft.yaml
    # LoRA on your own JSONL (see training/README.md)
    python -m medmo.training.sft --config training/recipes/medmo-8b/finetune_lora.yaml \\
        --datasets '[{"path": "my_data/train.jsonl"}]'

Any recipe key can be overridden on the command line (`--learning_rate 5e-6`). The run ends with a
complete MedMO repository in `output_dir` (weights, code, processor, chat template, model card,
`data_report.json`), pushed with `--push_to_hub --hub_model_id org/name` (trainer callbacks:
`RunFolderCallback`, `HubPushCallback`).
"""

import sys

from medmo.dependencies import missing_extra

from .arguments import MedMOArguments


try:
    from trl import ModelConfig, SFTConfig, SFTTrainer, TrlParser

    from .common import add_run_end, data, model_and_processor, setup_logging, trainer_arguments
except ImportError as error:  # the training stack is an extra: say which
    raise missing_extra("train", "python -m medmo.training.sft", error) from error


def main(argv: list[str] | None = None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = TrlParser((MedMOArguments, SFTConfig, ModelConfig))
    medmo_args, training_args, model_args = parser.parse_args_and_config(args=argv)
    setup_logging(training_args)

    # ------------------------------------------------------------------ model
    model, processor, peft_config = model_and_processor(medmo_args, model_args, training_args)

    # ------------------------------------------------------------------ data
    train, evaluation, reports = data(medmo_args, "sft", training_args.seed)

    # ------------------------------------------------------------------ training, then save and push
    trainer = SFTTrainer(
        model=model,
        args=trainer_arguments(training_args),
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=processor,
        peft_config=peft_config,
    )
    add_run_end(trainer, processor, medmo_args, model_args, training_args, reports, "SFT", argv)
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    return trainer


if __name__ == "__main__":
    main()
