"""Stage 4 levers on the demo's stage-3 model: can GRPO beat SFT continued for the same time?

    python bench/demo_grpo.py [--demo-dir runs/demo] [--variants hard_prompts,more_prompts,lower_lr]

Reads the folder `medmo demo` wrote (its stage-3 model, phantoms and report.json) and runs the
demo first when that folder is absent. Each variant changes the tiny stage-4 recipe in one way
and, like the demo, runs GRPO for each seed next to a control that continues stage-3 SFT for the
same wall time, both from the same stage-3 model, scored on the same held-out phantoms. The
`recipe` row is the demo's own stage 4 (from report.json). Variants:

- hard_prompts: only multi-lesion and lesion-free phantoms, where the box reward's miss and
  extra-box penalties measure what token-level SFT does not;
- more_prompts: 4 prompts per step instead of 2 (16 completions = 4 prompts x 4 generations);
- lower_lr: learning rate 5e-6 instead of 2e-5.

Prints a table (mean ± std over seeds) and writes `<demo-dir>/grpo_variants.json`.
"""

import argparse
import json
from pathlib import Path

from medmo import demo


def hard_prompts(phantom_dir: Path) -> tuple[str, ...]:
    """Stage-4 rows with two lesions or none, written beside the demo's phantom files."""
    rows = [json.loads(line) for line in (phantom_dir / "stage4_grpo.jsonl").read_text().splitlines()]
    kept = [row for row in rows if not row["labels"] or len(row["labels"]) >= 2]
    path = phantom_dir / "stage4_grpo_hard.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in kept), encoding="utf-8")
    return ("--datasets", json.dumps([{"path": str(path)}]))


VARIANTS = {
    "hard_prompts": hard_prompts,
    "more_prompts": lambda phantom_dir: ("--per_device_train_batch_size", "16"),
    "lower_lr": lambda phantom_dir: ("--learning_rate", "5e-6"),
}
KEYS = (("mean_iou", "mean IoU"), ("acc_at_50", "Acc@0.5"), ("findings_f1", "findings F1"))


def row(name: str, result: dict) -> str:
    cells = [name]
    for key, _ in KEYS:
        for arm in ("grpo", "sft_control"):
            value = result["summary"][arm][key]
            cells.append(f"{value['mean']:.3f} ± {value['std']:.3f}")
    cells.append(f"{result['summary']['grpo']['seconds']['mean']:.0f}")
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo-dir", type=Path, default=demo.DEFAULT_OUTPUT)
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from {', '.join(VARIANTS)}")
    args = parser.parse_args()
    names = [name for name in args.variants.split(",") if name]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    if not (args.demo_dir / "report.json").is_file():
        demo.run(args.demo_dir)
    report = json.loads((args.demo_dir / "report.json").read_text())
    plan = demo.Plan(**{**report["plan"], "seeds": tuple(report["plan"]["seeds"])})
    phantom_dir = args.demo_dir / "data" / "phantom"
    samples = demo.heldout_samples(args.demo_dir / "data")
    seconds_per_step = report["grpo_vs_sft_control"]["sft_seconds_per_step"]

    results = {"recipe": report["grpo_vs_sft_control"]}
    for name in names:
        demo.log(f"variant {name}")
        results[name] = demo.grpo_vs_control(args.demo_dir / "stage3", args.demo_dir / "grpo-variants" / name, phantom_dir, samples,
                                             plan, seconds_per_step, VARIANTS[name](phantom_dir))  # fmt: skip
        for key in ("logs", "records"):
            results[name].pop(key)
    (args.demo_dir / "grpo_variants.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")

    header = ["variant"] + [f"{title} {arm}" for _, title in KEYS for arm in ("GRPO", "SFT ctrl")] + ["GRPO s"]
    print(f"Stage 4 vs SFT continued for the same time, seeds {list(plan.seeds)}, {plan.grpo_steps} GRPO steps, "
          f"{plan.heldout_images} held-out phantoms (mean ± std over seeds)\n")  # fmt: skip
    print("| " + " | ".join(header) + " |\n" + "|---" * len(header) + "|")
    for name, result in results.items():
        print(row(name, result))


if __name__ == "__main__":
    main()
