"""`medmo demo --fast`: the demo's whole pipeline (phantoms, four stages through the training
scripts, evaluation after each, GRPO vs SFT control over three seeds, report, finale) on a handful
of images and steps. It checks the pipeline and its files, not the quality the full demo reaches."""

import json
import math

import pytest
from PIL import Image

from medmo.cli import main as cli


pytestmark = pytest.mark.slow
KEYS = {"stage", "mean_iou", "acc_at_50", "findings_f1", "vqa_acc", "seconds"}


def test_fast_demo_writes_the_report_the_issue_specifies(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli(["demo", "--fast", "--output", str(out)]) == 0
    printed = capsys.readouterr().out

    report = json.loads((out / "report.json").read_text())
    assert [row["stage"] for row in report["stages"]] == ["stage1", "stage2", "stage3", "stage4"]
    for row in report["stages"]:
        assert set(row) == KEYS
        assert all(0.0 <= row[key] <= 1.0 for key in KEYS - {"stage", "seconds"}) and row["seconds"] > 0
    control = report["grpo_vs_sft_control"]
    assert control["seeds"] == [0, 1, 2]
    assert [r["seed"] for r in control["runs"]["grpo"]] == [r["seed"] for r in control["runs"]["sft_control"]] == [0, 1, 2]
    for arm in ("grpo", "sft_control"):
        runs = control["runs"][arm]
        assert math.isclose(control["summary"][arm]["mean_iou"]["mean"], sum(r["mean_iou"] for r in runs) / 3, abs_tol=1e-12)
    # stage 4's row is the first seed's GRPO run, the model the finale loads
    assert report["stages"][3]["mean_iou"] == control["runs"]["grpo"][0]["mean_iou"]
    assert 0.0 <= report["constant_box_baseline"]["mean_iou"] < 0.2

    table = (out / "report.md").read_text()
    assert "| stage1 |" in table and "| GRPO (stage 4) |" in table and "| SFT continued |" in table and table in printed
    with Image.open(out / "curves.png") as picture:
        assert picture.size[0] > 500
    assert report["overlays"] and all((out / "overlays").joinpath(p.split("/")[-1]).is_file() for p in report["overlays"])

    # the finale: a fresh process loaded the final folder through the Auto classes and grounded a DICOM
    assert "loaded MedMOForConditionalGeneration and MedMOProcessor" in printed
    assert "CT_small.dcm (128x128)" in printed
    assert (out / "finale-CT_small.png").is_file() and (out / "finale-phantom.png").is_file()
    for stage in ("stage1", "stage2", "stage3", "stage4"):
        assert (out / stage / "model.safetensors").is_file() and (out / stage / "README.md").is_file()
