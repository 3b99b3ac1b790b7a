"""bench/gpu_check.py: its dry run (every section on tiny models, on the CPU), its isolation of
failing sections, its time budget and its FLOP count, so that the GPU check cannot rot between the
rare runs on a GPU."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest


pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "gpu_check.py"
SECTIONS = ["environment", "numerics", "sft_4b", "generate", "grpo_4b", "lora_8b", "fsdp2", "demo", "demo_grpo_10x"]


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gpu_check(out: Path, *arguments: str) -> tuple[subprocess.CompletedProcess, dict]:
    result = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), *arguments], capture_output=True, text=True, timeout=1800)
    return result, json.loads((out / "gpu_check.json").read_text())


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-check")
    result, report = gpu_check(out, "--dry-run", "--budget-seconds", "1500")
    return out, result, report


def results(report: dict, name: str) -> dict:
    return report["sections"][name]["results"]


def test_dry_run_runs_every_section_in_order_and_passes(dry_run):
    out, result, report = dry_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert list(report["sections"]) == SECTIONS
    for name, section in report["sections"].items():
        assert section["status"] == "ok", (name, section)
        assert section["seconds"] >= 0 and section["cpu_seconds"] >= 0
    assert sum(section["cpu_seconds"] for section in report["sections"].values()) > 0
    assert report["mode"] == "dry-run" and report["elapsed_seconds"] > 0
    assert report["environment"]["matmul_tflops"] > 0 and report["environment"]["versions"]["trl"]


def test_numerics_compare_bf16_with_fp32_and_sdpa_with_eager(dry_run):
    numerics = results(dry_run[2], "numerics")
    assert set(numerics["pairs"]) == {"bf16 SDPA vs fp32", "bf16 eager vs fp32", "bf16 SDPA vs bf16 eager"}
    for pair in numerics["pairs"].values():
        assert pair["finite"] and 0 < pair["rel_l2"] < 0.05 and 0 < pair["max_abs"] and 0 <= pair["top1_agreement"] <= 1
    # the image is the dry run's 64x64: 4 merged tokens; the text is padded to exactly 32 tokens
    assert numerics["image_tokens"] == 4 and numerics["text_positions"] == 32


def test_training_sections_report_throughput_and_mfu(dry_run):
    report = dry_run[2]
    full, lora = results(report, "sft_4b"), results(report, "lora_8b")
    for run in (full, lora):
        assert run["steps"] == 3 and run["measured_steps"] == 2
        assert run["tokens_per_second"] > 0 and run["lm_tokens_per_step"] > 0
        assert 0 < run["mfu"] < 1 and 0 < run["mfu_compute"] < 1 and run["hfu"] > run["mfu"]
        assert all(loss == loss for loss in run["losses"])  # no NaN
    assert full["trainable"] == full["parameters"] and full["lora_parameters"] == 0
    assert 0 < lora["trainable"] == lora["lora_parameters"] < lora["parameters"]


def test_generation_grpo_and_fsdp2_sections(dry_run):
    report = dry_run[2]
    rows = results(report, "generate")["rows"]
    assert [(row["model"], row["batch"]) for row in rows] == [("tiny (as 4b)", 1), ("tiny (as 4b)", 4), ("tiny (as 8b)", 1), ("tiny (as 8b)", 4)]
    assert all(row["tokens_per_second"] > 0 and row["time_to_first_token_s"] > 0 for row in rows)

    grpo = results(report, "grpo_4b")
    assert grpo["steps"] == 2 and grpo["generations"] == 8 and len(grpo["generate_seconds"]) >= 2
    assert all(tokens > 0 for tokens in grpo["completion_tokens_per_step"])

    fsdp = results(report, "fsdp2")
    # the tiny model has 2 decoder layers and 2 vision blocks, each wrapped, plus the root
    assert fsdp["wrapped"] == {"Qwen3VLTextDecoderLayer": 2, "Qwen3VLVisionBlock": 2, "MedMOForConditionalGeneration": 1}
    assert fsdp["optimizer_steps"] >= 1 and fsdp["checks"]["reload_logits_match"]
    assert fsdp["reload"]["missing_keys"] == [] and fsdp["reload"]["top1_agreement"] == 1.0


def test_demo_sections_and_the_tables(dry_run):
    out, _, report = dry_run
    demo = results(report, "demo")
    assert [row["stage"] for row in demo["stages"]] == ["stage1", "stage2", "stage3", "stage4"]
    longer = results(report, "demo_grpo_10x")
    assert longer["grpo_steps"] == 2 * demo["grpo_steps"]  # the dry run multiplies by 2, a GPU run by 10
    assert set(longer["summary"]) == {"grpo", "sft_control"}
    table = (out / "gpu_check.md").read_text()
    for title in ("bf16 numerics", "SFT training, 4B shape", "Generation throughput", "GRPO step", "LoRA SFT, 8B shape", "FSDP2", "medmo demo",
                  "Demo stage 4 at 10x"):  # fmt: skip
        assert f"## {title}" in table
    assert re.search(r"\| sft_4b \| ok \| \d+ \| [\d,]+ \| [\d,]+ tokens/s, MFU [\d.]+%", table)
    assert (out / "demo_report.md").is_file() and (out / "gpu_check.log").stat().st_size > 0


def test_a_crashed_section_is_recorded_and_the_next_still_runs(tmp_path):
    result, report = gpu_check(tmp_path, "--dry-run", "--sections", "numerics,generate", "--inject-failure", "numerics:crash")
    assert result.returncode == 1
    sections = report["sections"]
    assert sections["numerics"]["status"] == "failed" and "killed by signal 9" in sections["numerics"]["error"]
    assert sections["generate"]["status"] == "ok" and sections["environment"]["status"] == "ok"
    assert "| numerics | failed |" in (tmp_path / "gpu_check.md").read_text()


def test_a_raising_section_in_its_own_interpreter_is_recorded_with_its_traceback(tmp_path):
    result, report = gpu_check(tmp_path, "--dry-run", "--isolation", "subprocess", "--sections", "numerics,generate",
                               "--inject-failure", "numerics:raise")  # fmt: skip
    assert result.returncode == 1
    failed = report["sections"]["numerics"]
    assert failed["status"] == "failed" and failed["error"].startswith("InjectedFailure")
    assert "InjectedFailure" in failed["traceback_tail"]
    assert report["sections"]["generate"]["status"] == "ok"


def test_without_a_gpu_the_check_stops_with_the_fix_and_skips_the_rest(tmp_path):
    result, report = gpu_check(tmp_path, "--sections", "numerics", "--budget-seconds", "120")
    assert result.returncode == 1
    assert "--dry-run" in report["sections"]["environment"]["error"]
    assert report["sections"]["numerics"] == {"status": "skipped", "reason": "needs environment, which is failed", "seconds": 0.0}


def test_sections_start_only_with_their_prerequisites_and_enough_time():
    script = load_script()
    demo, longer = (next(s for s in script.SECTIONS if s.name == name) for name in ("demo", "demo_grpo_10x"))
    assert script.skip_reason(demo, 1000, {"environment": "ok"}, dry_run=False) is None
    assert script.skip_reason(demo, demo.min_seconds - 1, {"environment": "ok"}, dry_run=False).startswith("skipped for time")
    assert script.skip_reason(longer, 1000, {"environment": "ok", "demo": "timeout"}, dry_run=False) == "needs demo, which is timeout"
    assert script.skip_reason(longer, 1000, {"environment": "ok"}, dry_run=False) == "needs demo, which did not run"


def test_flop_count_covers_every_parameter_of_the_published_shapes():
    import torch

    from medmo import MedMOConfig, MedMOForConditionalGeneration

    script = load_script()
    for preset, total in (("medmo-4b", 4_437_815_808), ("medmo-8b", 8_767_123_696)):
        with torch.device("meta"):
            model = MedMOForConditionalGeneration(MedMOConfig.from_preset(preset))
        groups = script.parameter_groups(model)
        assert groups["total"] == total
        text, vision = script._config_fields(model.config)
        flops = script.training_flops(groups, text, vision, lm_tokens=2 * 1700, samples=2, patches_per_image=6400, lora=False)
        # 6 * N * T for the matmuls alone bounds the count from below; attention adds to it
        matmul_params = groups["lm_body"] + text["vocab_size"] * text["hidden_size"]
        assert flops["model"] > 6 * matmul_params * 2 * 1700
        lora = script.training_flops(groups, text, vision, lm_tokens=2 * 1700, samples=2, patches_per_image=6400, lora=True)
        assert flops["model"] * 0.6 < lora["model"] < flops["model"] and lora["forward"] == flops["forward"]
        assert flops["hardware"] == flops["model"] + flops["forward"]


def test_gpu_wheels_pin_the_tested_versions():
    def pins(path: Path) -> dict:
        lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
        return dict(line.split("==") for line in lines if line)

    wheels, tested = pins(REPO / "requirements" / "gpu-wheels.txt"), pins(REPO / "requirements" / "dev.txt")
    assert {"trl", "datasets"} <= set(wheels)
    assert {name: wheels[name] for name in wheels if name in tested} == {name: tested[name] for name in wheels if name in tested}
