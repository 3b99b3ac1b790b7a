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

from trl import GRPOConfig, GRPOTrainer, ModelConfig, TrlParser

from .arguments import MedMOArguments
from .common import data, finish, model_and_processor, setup_logging, take_over_push
from .rewards import get_reward_funcs


def main(argv: list[str] | None = None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = TrlParser((MedMOArguments, GRPOConfig, ModelConfig))
    medmo_args, training_args, model_args = parser.parse_args_and_config(args=argv)
    setup_logging(training_args)
    if not medmo_args.reward_funcs:
        raise ValueError("The GRPO recipe names no rewards: set `reward_funcs: [box, format, ...]`.")

    # ------------------------------------------------------------------ model and rewards
    model, processor, peft_config = model_and_processor(medmo_args, model_args, training_args)
    reward_funcs = get_reward_funcs(medmo_args.reward_funcs, medmo_args.reward_kwargs)

    # ------------------------------------------------------------------ data
    train, evaluation, reports = data(medmo_args, "grpo", training_args.seed)

    # ------------------------------------------------------------------ training
    push = take_over_push(training_args)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=reward_funcs,
        args=training_args,
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=processor,
        peft_config=peft_config,
    )
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)

    # ------------------------------------------------------------------ save and push
    finish(trainer, processor, medmo_args, model_args, training_args, reports, "GRPO", argv, push)
    return trainer


if __name__ == "__main__":
    main()
