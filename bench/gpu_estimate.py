"""A paper estimate of MedMO's training cost per stage: GPU hours and memory, 4B and 8B, H100 / H200.

    python bench/gpu_estimate.py

Parameter counts come from the presets (meta device). Everything else is an assumption stated in
ASSUMPTIONS below; the result is an order of magnitude, not a measurement. H100 SXM and H200 have
the same dense bf16 peak (989 TFLOP/s); the H200's 141 GB of faster memory lets a stage use larger
micro-batches or less offloading, which this model does not credit. GRPO's generation is bound by
memory bandwidth, not FLOPs, so its real cost is several times the figure here (and the H200's
4.8 TB/s against the H100's 3.35 TB/s does help there).
"""

import torch
from transformers import Qwen3VLForConditionalGeneration

from medmo import MedMOConfig


PEAK_FLOPS = 989e12  # dense bf16, H100 SXM and H200
MFU = 0.40  # achieved / peak, typical for well-tuned multimodal SFT
GPUS = 8
ASSUMPTIONS = {
    # stage: (samples, ViT patches per sample, LLM tokens per sample, optimizer-sharding note)
    "1 general SFT (768x768)": (18.5e6, (768 // 16) ** 2, (768 // 16) ** 2 // 4 + 150),
    "2 grounding SFT (1280x1280)": (3.0e6, (1280 // 16) ** 2, (1280 // 16) ** 2 // 4 + 120),
    "3 instruction SFT (~1024x1024 mean)": (4.3e6, (1024 // 16) ** 2, (1024 // 16) ** 2 // 4 + 300),
}
GRPO = {"prompts": 300e3, "generations": 8, "prompt_tokens": 1700, "completion_tokens": 500}
RECOMPUTE = 8 / 6  # activation checkpointing replays each forward once


def parameter_counts(preset: str) -> tuple[int, int]:
    with torch.device("meta"):
        model = Qwen3VLForConditionalGeneration(MedMOConfig.from_preset(preset))
    vision = sum(p.numel() for n, p in model.named_parameters() if n.startswith("model.visual."))
    return sum(p.numel() for p in model.parameters()) - vision, vision


def hours(flops: float) -> float:
    return flops / (PEAK_FLOPS * MFU) / 3600


def main():
    print(f"Assumptions: {GPUS} GPUs per node, MFU {MFU:.0%} of {PEAK_FLOPS / 1e12:.0f} TFLOP/s, training FLOPs = 6 x params x tokens")
    print("x 4/3 for activation checkpointing, GRPO generation 2 x params per token (vLLM), images as in ASSUMPTIONS.\n")
    print("| model | stage | samples | tokens / sample (LLM + ViT) | PFLOP | GPU-hours (H100 or H200) | days on 8 GPUs | memory / GPU (weights + ZeRO shards) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for preset in ("medmo-4b", "medmo-8b"):
        language, vision = parameter_counts(preset)
        total = language + vision
        for stage, (samples, patches, tokens) in ASSUMPTIONS.items():
            flops = 6 * RECOMPUTE * samples * (language * tokens + vision * patches)
            # ZeRO-2: bf16 weights replicated, bf16 gradients + fp32 master and Adam moments sharded.
            memory = (2 * total + (2 + 12) * total / GPUS) / 1e9
            print(f"| {preset} | {stage} | {samples / 1e6:.1f}M | {tokens:,} + {patches:,} | {flops / 1e15:,.0f} | "
                  f"{hours(flops):,.0f} | {hours(flops) / GPUS / 24:.1f} | {memory:.0f} GB + activations |")  # fmt: skip
        sequences = GRPO["prompts"] * GRPO["generations"]
        seq_tokens = GRPO["prompt_tokens"] + GRPO["completion_tokens"]
        generation = 2 * total * sequences * GRPO["completion_tokens"]
        training = (6 * RECOMPUTE + 2 + 2) * total * sequences * seq_tokens  # update + reference + old-policy log-probs
        flops = generation + training
        memory = (2 * total + 16 * total) / GPUS / 1e9  # ZeRO-3: everything sharded; offload moves optimizer to CPU
        print(f"| {preset} | 4 GRPO (300K prompts x 8) | {sequences / 1e6:.1f}M seq | {seq_tokens:,} | {flops / 1e15:,.0f} | "
              f"{hours(flops):,.0f} | {hours(flops) / GPUS / 24:.1f} | {memory:.0f} GB (before CPU offload) + vLLM cache |")  # fmt: skip


if __name__ == "__main__":
    main()
