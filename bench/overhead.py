"""MedMO vs stock Qwen3-VL on the same weights: forward+backward and generate time.

    python bench/overhead.py [--runs 7]

MedMO's classes are thin subclasses, so the ratio should sit at 1.00 within timing noise (target
<= 1.02). Runs alternate between the two models so that drift in machine load hits both alike;
each cell is the median of `--runs` samples, each sample averaging enough calls to last ~0.2 s.
"""

import argparse
import statistics
import time

import numpy as np
import torch
from PIL import Image
from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

from medmo import MedMOForConditionalGeneration
from medmo.tiny import build_processor, tiny_config


MID_SIZE = {  # about 60M parameters: big enough that kernel time dominates Python overhead
    "text_config": {
        "hidden_size": 512, "intermediate_size": 1536, "num_hidden_layers": 6, "num_attention_heads": 8,
        "num_key_value_heads": 4, "head_dim": 64,
        "rope_scaling": {"rope_type": "default", "mrope_section": [16, 8, 8], "mrope_interleaved": True},
    },
    "vision_config": {
        "depth": 6, "hidden_size": 384, "intermediate_size": 1536, "num_heads": 6, "out_hidden_size": 512,
        "deepstack_visual_indexes": [1, 3, 5],
    },
}  # fmt: skip


def build_pair(processor, overrides):
    torch.manual_seed(0)
    medmo = MedMOForConditionalGeneration(tiny_config(processor.tokenizer, **overrides))
    settings = {k: v for k, v in medmo.config.to_dict().items() if k not in ("model_type", "auto_map", "architectures")}
    qwen = Qwen3VLForConditionalGeneration(Qwen3VLConfig(**settings))
    qwen.load_state_dict(medmo.state_dict())
    for model in (medmo, qwen):
        model.generation_config.eos_token_id = None  # always generate the full length
        model.generation_config.pad_token_id = processor.tokenizer.pad_token_id
    return medmo, qwen


def make_inputs(processor, size):
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8))
    messages = [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": "Describe."}]}]
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt")


def forward_backward(model, inputs):
    model.train()
    output = model(**inputs, labels=inputs["input_ids"])
    output.loss.backward()
    model.zero_grad(set_to_none=True)


def generate(model, inputs):
    model.eval()
    with torch.no_grad():
        model.generate(**inputs, max_new_tokens=16, do_sample=False, min_new_tokens=16)


def timed(function, model, inputs, repeat):
    start = time.perf_counter()
    for _ in range(repeat):
        function(model, inputs)
    return (time.perf_counter() - start) / repeat


def compare(name, processor, overrides, image_size, runs):
    medmo, qwen = build_pair(processor, overrides)
    inputs = make_inputs(processor, image_size)
    rows = []
    for label, function in (("forward+backward", forward_backward), ("generate 16 tokens", generate)):
        # Warm up, then repeat each call enough times that one sample lasts about 0.2 s.
        repeat = max(1, round(0.2 / timed(function, qwen, inputs, 1)))
        timed(function, medmo, inputs, repeat)
        medmo_times, qwen_times = [], []
        for _ in range(runs):
            medmo_times.append(timed(function, medmo, inputs, repeat))
            qwen_times.append(timed(function, qwen, inputs, repeat))
        medmo_median, qwen_median = statistics.median(medmo_times), statistics.median(qwen_times)
        rows.append((name, label, qwen_median, medmo_median, medmo_median / qwen_median))
    parameters = sum(p.numel() for p in medmo.parameters())
    return rows, parameters, inputs["input_ids"].shape[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    processor = build_processor(min_pixels=64 * 64, max_pixels=224 * 224)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.runs} runs\n")
    print("| config | step | Qwen3-VL (ms) | MedMO (ms) | ratio |")
    print("|---|---|---:|---:|---:|")
    for name, overrides, size in (("tiny", {}, 128), ("mid-size", MID_SIZE, 224)):
        rows, parameters, tokens = compare(name, processor, overrides, size, args.runs)
        for config, step, qwen_s, medmo_s, ratio in rows:
            label = f"{config} ({parameters / 1e6:.1f}M params, {tokens} tokens)"
            print(f"| {label} | {step} | {qwen_s * 1e3:.1f} | {medmo_s * 1e3:.1f} | {ratio:.3f} |")


if __name__ == "__main__":
    main()
