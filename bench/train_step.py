"""Training step time on a tiny MedMO: MedMO's scripts vs TRL's stock VLM script pattern, same model and data.

    python bench/train_step.py [--steps 30 --runs 3]

The stock pattern is TRL's `sft_vlm` / `grpo_vlm` examples: `AutoModelForImageTextToText` +
`AutoProcessor`, a `datasets` table with decoded images, the trainer. MedMO's path is
`medmo.training.sft` / `grpo` (recipe parsing, data validation, lazy medical image reading,
freezing, the finished repository folder). Both train the same tiny model on the same phantom
rows with the same settings; each cell is the median over `--runs` runs of the trainer's mean
step time (model saving excluded). Target ratio <= 1.05.
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import transformers
from datasets import Dataset, Features, Image, Sequence, Value
from trl import GRPOConfig, GRPOTrainer, SFTConfig, SFTTrainer

import medmo  # noqa: F401  (registers MedMO with the Auto classes)
from medmo.tiny import build_processor, save_tiny
from medmo.training import grpo, sft
from medmo.training.data.phantom import write_phantom_dataset
from medmo.training.rewards import get_reward_funcs


RECIPES = Path(__file__).resolve().parents[1] / "training" / "recipes" / "tiny"
REWARDS = ["box", "label_accuracy", "format"]


def stock_rows(path: Path, kind: str) -> Dataset:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    folder = path.parent
    if kind == "sft":
        data = {"images": [[str(folder / p) for p in r["images"]] for r in rows], "messages": [r["messages"] for r in rows]}
        return Dataset.from_dict(data).cast_column("images", Sequence(Image()))
    data = {
        "images": [[str(folder / p) for p in r["images"]] for r in rows],
        "prompt": [r["prompt"] for r in rows],
        "solution": [r["solution"] for r in rows],
        "image_size": [r["image_size"] for r in rows],
        "task": [r["task"] for r in rows],
        "labels": [r["labels"] for r in rows],
    }
    features = Features({"images": Sequence(Image()), "prompt": [{"role": Value("string"), "content": [{"type": Value("string"), "text": Value("string")}]}],
                         "solution": Value("string"), "image_size": Sequence(Value("int64")), "task": Value("string"), "labels": Sequence(Value("string"))})  # fmt: skip
    return Dataset.from_dict(data, features=features)


def step_seconds(trainer) -> float:
    steps = trainer.state.global_step
    runtime = next(entry["train_runtime"] for entry in trainer.state.log_history if "train_runtime" in entry)
    return runtime / steps


def tokens(trainer) -> float:
    return max(entry.get("num_tokens", 0) for entry in trainer.state.log_history)


def stock_sft(workspace: Path, steps: int):
    model = transformers.AutoModelForImageTextToText.from_pretrained(workspace / "base")
    processor = transformers.AutoProcessor.from_pretrained(workspace / "base")
    processor.image_processor.size = {"shortest_edge": 4096, "longest_edge": 16384}
    config = SFTConfig(output_dir=str(workspace / "stock-sft"), max_steps=steps, per_device_train_batch_size=8, learning_rate=1e-3,
                       assistant_only_loss=True, bf16=False, report_to="none", save_strategy="no", logging_steps=steps, max_length=None,
                       seed=0, disable_tqdm=True)  # fmt: skip
    trainer = SFTTrainer(model=model, args=config, train_dataset=stock_rows(workspace / "data/stage3_instruct.jsonl", "sft"), processing_class=processor)
    trainer.train()
    return trainer


def medmo_arguments(recipe: str, workspace: Path, output: str, data: str, steps: int, *extra: str) -> list[str]:
    return ["--config", str(RECIPES / recipe), "--model_name_or_path", str(workspace / "base"), "--output_dir", str(workspace / output),
            "--datasets", json.dumps([{"path": str(workspace / "data" / data)}]), "--max_steps", str(steps),
            "--per_device_train_batch_size", "8", "--logging_steps", str(steps), "--disable_tqdm", "true", *extra]  # fmt: skip


def stock_grpo(workspace: Path, steps: int):
    model = transformers.AutoModelForImageTextToText.from_pretrained(workspace / "base")
    processor = transformers.AutoProcessor.from_pretrained(workspace / "base")
    processor.image_processor.size = {"shortest_edge": 4096, "longest_edge": 16384}
    config = GRPOConfig(output_dir=str(workspace / "stock-grpo"), max_steps=steps, per_device_train_batch_size=8, num_generations=4,
                        max_completion_length=32, learning_rate=2e-5, bf16=False, report_to="none", save_strategy="no", logging_steps=steps,
                        seed=0, beta=0.02, epsilon=0.15, epsilon_high=0.25, mask_truncated_completions=True, loss_type="dapo", disable_tqdm=True)  # fmt: skip
    trainer = GRPOTrainer(model=model, reward_funcs=get_reward_funcs(REWARDS), args=config, processing_class=processor,
                          train_dataset=stock_rows(workspace / "data/stage4_grpo.jsonl", "grpo"))  # fmt: skip
    trainer.train()
    return trainer


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    workspace = Path(tempfile.mkdtemp(prefix="medmo-train-bench-"))
    save_tiny(workspace / "base")
    write_phantom_dataset(workspace / "data", build_processor(max_pixels=128 * 128), train=240, heldout=0, size=128)
    results = {key: [] for key in ("stock SFT", "MedMO SFT", "stock GRPO", "MedMO GRPO")}
    token_counts = {}
    for run in range(args.runs):
        for name, function in (
            ("stock SFT", lambda: stock_sft(workspace, args.steps)),
            ("MedMO SFT", lambda: sft.main(medmo_arguments("stage3_instruct.yaml", workspace, f"medmo-sft-{run}", "stage3_instruct.jsonl", args.steps))),
            ("stock GRPO", lambda: stock_grpo(workspace, args.steps)),
            ("MedMO GRPO", lambda: grpo.main(medmo_arguments("stage4_grpo.yaml", workspace, f"medmo-grpo-{run}", "stage4_grpo.jsonl", args.steps,
                                                              "--num_generations", "4", "--max_completion_length", "32", "--reward_funcs", *REWARDS,
                                                              "--reward_weights", "1", "1", "1"))),
        ):  # fmt: skip
            start = time.perf_counter()
            trainer = function()
            results[name].append(step_seconds(trainer))
            token_counts[name] = tokens(trainer) / (results[name][-1] * trainer.state.global_step)
            print(f"run {run}: {name}: {results[name][-1] * 1e3:.0f} ms/step ({time.perf_counter() - start:.1f} s with set-up)", flush=True)
    print(f"\nTiny MedMO, batch 8, {args.steps} steps, median of {args.runs} runs\n")
    print("| trainer | stock TRL pattern (ms/step) | MedMO script (ms/step) | ratio | MedMO tokens / s |")
    print("|---|---:|---:|---:|---:|")
    for kind in ("SFT", "GRPO"):
        stock, ours = statistics.median(results[f"stock {kind}"]), statistics.median(results[f"MedMO {kind}"])
        print(f"| {kind} | {stock * 1e3:.0f} | {ours * 1e3:.0f} | {ours / stock:.3f} | {token_counts[f'MedMO {kind}']:,.0f} |")


if __name__ == "__main__":
    main()
