"""Quantized MedMO against full precision: held-out quality of a trained model, and memory.

    python bench/quantize.py [--workdir runs/quantize-bench] [--stage2-epochs 5]

1. Quality. Trains the demo's model from scratch with the demo's recipe files (`medmo.demo`: stage 1
   reports for 1 epoch, then stage 2 grounding for `--stage2-epochs` epochs on 2,000 phantoms; a
   few minutes on a CPU; reused from `--workdir` when already there), then evaluates it on the
   demo's 200 held-out phantoms (grounding and report samples, greedy, <= 64 new tokens) in full
   precision (fp32) and quantized: mean IoU, Acc@0.5 and findings F1 with the demo's metric
   functions, weight bytes and the evaluating process's peak RSS.
2. Memory. The same variants of a 179M-parameter random MedMO (12 language layers of width 1024),
   where the language model's linear layers dominate as in MedMO-8B: weight bytes, what the model
   adds to the process's resident memory once loaded and used (anonymous memory, and pages of the
   memory-mapped safetensors file: fp32 computes straight from that mapping; quantized variants
   compute from their own copies and leave the file pages they read while quantizing as clean,
   reclaimable page cache), and the peak of a process that loads it and generates 16 tokens for
   one image.

Variants: fp32, int8 (optimum-quanto, CPU), and bnb-8bit / bnb-4bit when bitsandbytes is importable
(bitsandbytes >= 0.46 also runs on CPUs; on GPUs these are the variants to use). Each variant runs
in its own process so that peak RSS is its own. All on the CPU with `--threads` torch threads.
"""

import argparse
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path


BIG = {  # language model: 12 x (attention 3.1M + MLP 9.4M) parameters, the bulk of the weights as in MedMO-8B
    "text_config": {
        "hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 16,
        "num_key_value_heads": 8, "head_dim": 64,
        "rope_scaling": {"rope_type": "default", "mrope_section": [16, 8, 8], "mrope_interleaved": True},
    },
    "vision_config": {
        "depth": 6, "hidden_size": 384, "intermediate_size": 1536, "num_heads": 6, "out_hidden_size": 1024,
        "deepstack_visual_indexes": [1, 3, 5],
    },
}  # fmt: skip


def variants() -> list[str]:
    found = ["fp32", "int8"]
    if importlib.util.find_spec("bitsandbytes") is not None:
        found += ["bnb-8bit", "bnb-4bit"]
    return found


def load(model_dir: str, variant: str):
    from medmo.inference.quantization import load_for_inference

    return load_for_inference(model_dir, device="cpu", quantization=None if variant == "fp32" else variant)


# --------------------------------------------------------------------------- children (one process per variant)


def child_quality(variant: str, model_dir: str, data_dir: str) -> dict:
    from medmo import demo
    from medmo.inference.quantization import weight_bytes
    from medmo.evaluation.runner import TransformersBackend, prediction_record

    samples = [s for s in demo.heldout_samples(Path(data_dir)) if s.kind in ("grounding", "report")]
    model, processor = load(model_dir, variant)
    backend, records = TransformersBackend(model, processor), []
    start = time.perf_counter()
    for kind in ("grounding", "report"):
        group = [s for s in samples if s.kind == kind]
        for first in range(0, len(group), 50):
            batch = group[first : first + 50]
            records += [prediction_record(s, text, processor) for s, text in zip(batch, backend(batch, 64))]
    metrics = demo.score(records)
    return {"mean_iou": metrics["mean_iou"], "acc_at_50": metrics["acc_at_50"], "findings_f1": metrics["findings_f1"], "samples": len(records),
            "seconds": time.perf_counter() - start, "weight_bytes": weight_bytes(model), "peak_rss_mb": _peak_rss_mb()}  # fmt: skip


def child_memory(variant: str, model_dir: str) -> dict:
    import torch
    from PIL import Image

    from medmo.inference.quantization import _require, weight_bytes

    if variant != "fp32":  # the quantization library's own import belongs to the baseline
        _require(variant)
        __import__("optimum.quanto" if variant == "int8" else "bitsandbytes")
    baseline = _resident()
    model, processor = load(model_dir, variant)
    messages = [{"role": "user", "content": [{"type": "image", "image": Image.new("RGB", (256, 256), (90, 90, 90))},
                                             {"type": "text", "text": "Describe the findings."}]}]  # fmt: skip
    inputs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt")
    start = time.perf_counter()
    with torch.no_grad():
        model.generate(**inputs, max_new_tokens=16, do_sample=False)
    seconds = time.perf_counter() - start
    serving = _resident()
    return {"weight_bytes": weight_bytes(model), "peak_rss_mb": _memory_mb("VmHWM"), "generate_seconds": seconds, "baseline_mb": sum(baseline),
            "anonymous_mb": serving[0] - baseline[0], "file_mb": serving[1] - baseline[1], "parameters": sum(p.numel() for p in model.parameters())}  # fmt: skip


def _memory_mb(field: str) -> float:
    """This process's resident memory from Linux's /proc: `VmHWM` (peak) or `VmRSS` (now). Not
    `ru_maxrss`: a child's starts at its parent's resident size at fork (measured here: every child
    reported the parent's 1.3 GB after training)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("bench/quantize.py measures memory through /proc/self/status (Linux).")


def _peak_rss_mb() -> float:
    return _memory_mb("VmHWM")


def _resident() -> tuple[float, float]:
    """(anonymous, file-backed) resident memory now, after handing freed heap back to the system
    (glibc keeps what loading freed: 1.3 of the 2.5 GB resident after an int8 load were such leftovers)."""
    import ctypes
    import gc

    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return _memory_mb("RssAnon"), _memory_mb("RssFile")


def run_child(*arguments: str, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    result = subprocess.run([sys.executable, __file__, *arguments], capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- preparation


def prepare_trained(workdir: Path, epochs: int) -> tuple[Path, Path]:
    """The demo's model after stage 1 (1 epoch) and stage 2 (`epochs`), and the phantom data folder."""
    from medmo import demo

    model_dir, data_dir = workdir / "stage2", workdir / "data"
    if (model_dir / "model.safetensors").exists():
        return model_dir, data_dir
    plan = dataclasses.replace(demo.FULL, epochs={"stage1": 1, "stage2": epochs, "stage3": 0})
    base = demo.build_model(workdir / "base")
    phantom = demo.write_data(base, data_dir, plan)["heldout"].parent
    start = time.perf_counter()
    demo.train("sft", "stage1_reports.yaml", base, workdir / "stage1", phantom, plan, "--num_train_epochs", "1")
    demo.train("sft", "stage2_grounding.yaml", workdir / "stage1", model_dir, phantom, plan, "--num_train_epochs", str(epochs))
    print(f"trained stage 1 (1 epoch) and stage 2 ({epochs} epochs) in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return model_dir, data_dir


def prepare_big(workdir: Path) -> Path:
    import torch

    from medmo.checkpoint import save_medmo_folder
    from medmo.modeling_medmo import MedMOForConditionalGeneration
    from medmo.tiny import build_processor, tiny_config

    folder = workdir / "memory-model"
    if not (folder / "model.safetensors").exists():
        processor = build_processor(max_pixels=256 * 256)
        torch.manual_seed(0)
        model = MedMOForConditionalGeneration(tiny_config(processor.tokenizer, **BIG))
        model.generation_config.eos_token_id = None  # always the full 16 tokens
        save_medmo_folder(model, processor, folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="runs/quantize-bench")
    parser.add_argument("--stage2-epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, variant, *paths = args.child
        print(json.dumps(child_quality(variant, *paths) if kind == "quality" else child_memory(variant, *paths)))
        return

    import torch

    torch.set_num_threads(args.threads)
    workdir = Path(args.workdir)
    model_dir, data_dir = prepare_trained(workdir, args.stage2_epochs)
    big = prepare_big(workdir)
    quality = {v: run_child("--child", "quality", v, str(model_dir), str(data_dir), threads=args.threads) for v in variants()}
    memory = {v: run_child("--child", "memory", v, str(big), threads=args.threads) for v in variants()}

    base = quality["fp32"]
    print(f"## Quantized MedMO, CPU ({args.threads} torch thread(s))\n")
    print(f"Quality: the demo's model after stage 1 + {args.stage2_epochs} epochs of stage 2, {base['samples']} held-out phantom samples "
          "(grounding and report), greedy\n")  # fmt: skip
    print("| variant | mean IoU | Acc@0.5 | findings F1 | weights (KB) | peak RSS (MB) | eval s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for variant, row in quality.items():
        print(f"| {variant} | {row['mean_iou']:.3f} | {row['acc_at_50']:.3f} | {row['findings_f1']:.3f} | {row['weight_bytes'] / 1024:.0f} "
              f"| {row['peak_rss_mb']:.0f} | {row['seconds']:.0f} |")  # fmt: skip
    print(f"\nMemory: a random MedMO of {memory['fp32']['parameters'] / 1e6:.0f}M parameters (12 language layers of width 1024), "
          "load + 16 new tokens for one 256-px image\n")  # fmt: skip
    print(f"(a process that has imported the stack holds {memory['fp32']['baseline_mb']:.0f} MB before loading; the columns are what the "
          "model adds to it once loaded and after generating: anonymous memory, and pages of the mapped safetensors file)\n")  # fmt: skip
    print("| variant | weights (MB) | vs fp32 | anonymous (MB) | mapped weight file (MB) | peak RSS, loading included (MB) | generate s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for variant, row in memory.items():
        print(f"| {variant} | {row['weight_bytes'] / 2**20:.0f} | {row['weight_bytes'] / memory['fp32']['weight_bytes']:.2f} "
              f"| {row['anonymous_mb']:.0f} | {row['file_mb']:.0f} | {row['peak_rss_mb']:.0f} | {row['generate_seconds']:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
