"""Folders saved under transformers 5.x load under 4.57 and the reverse, with the same outputs.

Driven from the 5.x suite: the 4.57 side runs in the second environment that `make setup` creates
(`.venv-tf4`, or the interpreter named by MEDMO_TF4_PYTHON).
"""

import os
from pathlib import Path

import pytest
import torch
import transformers
from helpers import auto_load_in_fresh_process, run_python
from test_auto_loading import local_outputs


REPO_ROOT = Path(__file__).resolve().parents[1]
TF4_PYTHON = os.environ.get("MEDMO_TF4_PYTHON") or str(REPO_ROOT / ".venv-tf4" / "bin" / "python")
pytestmark = [
    pytest.mark.skipif(not transformers.__version__.startswith("5"), reason="driven from the transformers 5.x suite"),
    pytest.mark.skipif(not Path(TF4_PYTHON).exists(), reason=f"no transformers 4.57 env at {TF4_PYTHON}; run `make setup`"),
]


def test_folder_saved_with_5x_loads_in_4_57(tiny, tiny_dir, tmp_path):
    report, logits, generated = auto_load_in_fresh_process(
        tiny_dir, tmp_path / "out.safetensors", "AutoModelForVision2Seq", python=TF4_PYTHON
    )
    assert report["version"].startswith("4.57") and report["model"] == "MedMOForConditionalGeneration"
    expected_logits, expected_ids = local_outputs(*tiny)
    torch.testing.assert_close(logits, expected_logits, atol=1e-5, rtol=0)
    assert torch.equal(generated, expected_ids)


def test_folder_saved_with_4_57_loads_in_5x(tmp_path):
    folder = tmp_path / "saved-by-4.57"
    run_python(f"from medmo.tiny import save_tiny; save_tiny({str(folder)!r}, seed=3)", python=TF4_PYTHON)
    _, logits_4, generated_4 = auto_load_in_fresh_process(folder, tmp_path / "a.safetensors", "AutoModelForVision2Seq", python=TF4_PYTHON)
    report, logits_5, generated_5 = auto_load_in_fresh_process(folder, tmp_path / "b.safetensors")
    assert report["version"].startswith("5.")
    torch.testing.assert_close(logits_5, logits_4, atol=1e-5, rtol=0)
    assert torch.equal(generated_5, generated_4)
