# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""GRPO for MedMO (recipe stage 4): TRL's GRPOTrainer with MedMO's verifiable rewards.

    python -m medmo.training.grpo --config training/recipes/tiny/stage4_grpo.yaml
    # 8 GPUs, DeepSpeed ZeRO-3 with CPU offload, vLLM colocated for generation (the authors' setting)
    accelerate launch --config_file training/accelerate_configs/zero3_offload.yaml -m medmo.training.grpo \\
        --config training/recipes/medmo-8b/stage4_grpo.yaml --use_vllm --vllm_mode colocate

Rewards come from the recipe by registry name (`reward_funcs: [box, label_accuracy, format]`, with
`reward_weights` and `reward_kwargs`); see `medmo.training.rewards`. vLLM generation needs a GPU
and `pip install vllm`; without it generation uses transformers.
"""

import sys

from medmo.dependencies import missing_extra

from .arguments import MedMOArguments, RewardArguments


try:
    from trl import GRPOConfig, GRPOTrainer, ModelConfig, TrlParser

    from .common import add_run_end, data, model_and_processor, setup_logging, trainer_arguments
    from .rewards import get_reward_funcs
except ImportError as error:  # the training stack is an extra: say which
    raise missing_extra("train", "python -m medmo.training.grpo", error) from error


def main(argv: list[str] | None = None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = TrlParser((MedMOArguments, RewardArguments, GRPOConfig, ModelConfig))
    medmo_args, reward_args, training_args, model_args = parser.parse_args_and_config(args=argv)
    setup_logging(training_args)
    if not reward_args.reward_funcs:
        raise ValueError("The GRPO recipe names no rewards: set `reward_funcs: [box, format, ...]`.")

    # ------------------------------------------------------------------ model and rewards
    model, processor, peft_config = model_and_processor(medmo_args, model_args, training_args)
    reward_funcs = get_reward_funcs(reward_args.reward_funcs, reward_args.reward_kwargs)

    # ------------------------------------------------------------------ data
    train, evaluation, reports = data(medmo_args, "grpo", training_args.seed)

    # ------------------------------------------------------------------ training, then save and push
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=reward_funcs,
        args=trainer_arguments(training_args),
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=processor,
        peft_config=peft_config,
    )
    add_run_end(trainer, processor, medmo_args, model_args, training_args, reports, "GRPO", argv)
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    return trainer


if __name__ == "__main__":
    main()
