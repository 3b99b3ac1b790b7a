"""Builders for the training tests: a tiny base model and phantom data in a temporary folder."""

from pathlib import Path

from medmo.tiny import build_processor, save_tiny
from medmo.training.data.phantom import write_phantom_dataset


REPO_ROOT = Path(__file__).resolve().parents[1]
RECIPES = REPO_ROOT / "training" / "recipes"


def make_workspace(root: Path, train: int = 24, heldout: int = 8) -> Path:
    """`root/base` (a tiny MedMO) and `root/data/phantom` (every stage's JSONL)."""
    save_tiny(root / "base", seed=0)
    write_phantom_dataset(root / "data" / "phantom", build_processor(max_pixels=128 * 128), train=train, heldout=heldout, size=64)
    return root


def recipe_args(recipe: str, root: Path, output: str, *extra: str) -> list[str]:
    """Arguments that run a tiny recipe on the workspace for a few steps."""
    data = root / "data" / "phantom"
    stage_file = {"stage1_reports": "stage1_reports", "stage2_grounding": "stage2_grounding",
                  "stage3_instruct": "stage3_instruct", "stage4_grpo": "stage4_grpo", "finetune_lora": "stage3_instruct",
                  "stage1_aux_align": "stage1_reports", "stage1_aux_prealign": "stage1_reports"}[recipe]  # fmt: skip
    return [
        "--config", str(RECIPES / "tiny" / f"{recipe}.yaml"),
        "--model_name_or_path", str(root / "base"),
        "--output_dir", str(root / output),
        "--datasets", f'[{{"path": "{data / stage_file}.jsonl"}}]',
        "--max_steps", "2", "--per_device_train_batch_size", "4", "--logging_steps", "1",
        *extra,
    ]  # fmt: skip
