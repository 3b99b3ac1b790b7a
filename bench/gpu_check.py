"""Real-size GPU checks of MedMO in one prepared script: bf16 numerics, training throughput and MFU,
generation throughput, LoRA and FSDP2 at the published 4B / 8B shapes, and the demo on a GPU.

    # one GPU (an H200), nothing downloaded; no section starts after --budget-seconds (480)
    python bench/gpu_check.py --out runs/gpu_check
    # the same sections on tiny models, on a CPU (run by `make test`)
    python bench/gpu_check.py --dry-run --out /tmp/gpu-check
    # only some sections (e.g. a second call with the time that is left)
    python bench/gpu_check.py --out runs/gpu_check --sections demo,demo_grpo_10x --budget-seconds 240

Writes `gpu_check.json` (every number, each section's status and time, the machine and versions),
`gpu_check.md` (the tables) and `gpu_check.log` (each section's output) to --out after every section,
so a run stopped at its time limit keeps what it measured. Exit status 1 when a section failed, timed
out or failed a check; sections skipped for lack of time are recorded as such and do not fail the run.

Models have random weights at the published shapes (`MedMOConfig.from_preset("medmo-4b" | "medmo-8b")`),
built on the `meta` device and materialised directly on the GPU in the run's dtype (`to_empty` +
`init_weights`, seeded). The real Qwen3 vocabulary cannot be fetched offline: the tokenizer is the
tiny offline one (`medmo.tiny.build_tokenizer`, 631 tokens, Qwen3's special tokens), the model keeps
the preset's 151,936-row embedding and `lm_head` (so every matmul has its real size), and the config's
image / video / vision-start / vision-end and eos / pad ids are read from that tokenizer. Text is
therefore short in tokens (the prompts' words), image tokens are exact (Qwen3-VL's 16-px patches,
2x2 merge: a 1280x1280 image is 6,400 patches and 1,600 language-model tokens), and generated ids
above the tokenizer's 631 decode to nothing. Sections that go through the training scripts read a
saved model folder (random bf16 weights written once with `save_medmo_folder`: 8.9 GB at 4B, 17.5 GB
at 8B), so that the scripts load, and GRPO builds its reference model, exactly as for a real
checkpoint.

Sections, in priority order; each runs in its own process (a crash, CUDA out-of-memory or hang in one
is recorded with the tail of its output, and the rest still run), is timed, and is started only if
its minimum time fits in what is left of --budget-seconds (else recorded as skipped for time):

- environment: GPU, driver, versions, a measured bf16 matmul rate (8192^3, ten products).
- numerics (4B shape, one 768x768 image + 256 text tokens): logits of bf16 SDPA and bf16 eager
  attention against fp32 (TF32 off), and SDPA against eager in bf16: max |difference|, relative L2
  difference, and agreement of the next-token argmax at every text position.
- sft_4b: `training/sft.py` (TRL SFTTrainer) with `training/recipes/medmo-4b/stage2_grounding.yaml`
  (bf16, gradient checkpointing, full fine-tuning) on 1280x1280 phantoms, batch 2, 10 steps.
- generate: `model.generate` throughput at the 4B and 8B shapes, batch 1 and 16, one 768x768 image
  + prompt, exactly 128 new tokens (greedy, `min_new_tokens` = `max_new_tokens`): time to the first
  token, decode tokens/s, and the step time against the bandwidth floor (bf16 weights / 4.8 TB/s).
- grpo_4b: `training/grpo.py` (TRL GRPOTrainer, transformers generation) with the 4B stage-4 recipe:
  one prompt x 8 generations per step, 256 completion tokens, 2 steps; time per step and in generate.
- lora_8b: as sft_4b at the 8B shape through `training/recipes/medmo-8b/finetune_lora.yaml` with
  `lora_preset: language_vision` (adapters on the language model and the vision tower).
- fsdp2: `accelerate launch --config_file training/accelerate_configs/fsdp2.yaml --num_processes 1`
  of `training/sft.py` at the 4B shape (2 steps), then a sharded save (accelerate's `save_fsdp_model`,
  DCP) that a fresh process loads into a plain model: its logits must equal the FSDP model's.
- demo: `medmo demo --device cuda` end to end, its time and table.
- demo_grpo_10x: stage 4 of the demo at 10x its GRPO steps against SFT continued for the same time,
  3 seeds, from the demo's stage-3 model (run only if its estimate, from the demo's own timings, fits).

The training sections override only what a measurement needs: the model folder, phantom data, a few
steps, gradient accumulation 1, no saving of checkpoints or reports, and `--attn_implementation sdpa`
(the recipes name flash_attention_2, whose package the GPU image lacks). Throughput comes from a
step-timer callback added to the scripts' trainer (the scripts run unchanged otherwise); the first
step (warm-up) is left out, the rest give a median. "Wall" step time runs from one step's end to the
next (data loading and collation included), "compute" from a step's start to its end. With random
weights GRPO's completions all run to the length limit and score alike, so its loss is 0: the step
still generates, scores and back-propagates.

FLOPs (MFU) -- model FLOPs per optimizer step, from the parameters and the step's own token counts:

    forward = 2 * N_lm * T + 2 * L_lm * H_q * sum_i T_i^2            (language model, causal attention)
            + 2 * N_vit * P + 2 * N_merge * P / 4 + 4 * L_vit * d_vit * sum_j P_j^2   (vision, full attention)
    full fine-tuning:  model FLOPs = 3 * forward                      (the usual 6 * N * T, attention included)
    LoRA (frozen base): model FLOPs = 2 * forward_matmul + 3 * forward_attention
                        (frozen weights need input gradients but no weight gradients: ~4 * N * T)
    hardware FLOPs = model FLOPs + forward                            (gradient checkpointing recomputes it)
    MFU = model FLOPs / step seconds / 790e12                          (H200 bf16, as measured here)

N_lm: language-model parameters without the input embedding (a lookup), plus the `lm_head` matmul
(vocab x hidden, counted also when tied); T: the step's language-model tokens (text + image tokens,
padding excluded; TRL's `num_tokens`), T_i = T / batch; H_q = heads x head dim. N_vit: patch embedding
+ vision blocks, applied to P patches; N_merge: the merger and DeepStack mergers, applied to P / 4
merged tokens; d_vit: vision width; P_j: one image's patches. LoRA adapters' own FLOPs (<1%) are left out.

--dry-run runs every section on tiny models (64x64 images, a few steps, 8 new tokens, the demo's
`--fast` plan on 8 phantoms and one seed, stage 4 at 2x instead of 10x) on the CPU, each in a forked
process, so that this script cannot rot between GPU runs; MFU is then against the CPU's measured fp32
matmul rate. On a CPU accelerate leaves FSDP off, so there the fsdp2 section wraps the trained model
itself with torch's `fully_shard` (a one-process gloo group, the layer classes of fsdp2.yaml), takes
one step and saves through the same accelerate function; on a GPU the wrapping, mixed precision and
steps are accelerate's.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, replace
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "training" / "recipes"
FSDP_CONFIG = REPO / "training" / "accelerate_configs" / "fsdp2.yaml"
H200_BF16_TFLOPS = 790.0  # 8192^3 bf16 products on this workplace's H200s (788; datasheet dense peak: 989)
H200_HBM_BYTES_PER_S = 4.8e12  # datasheet
# special tokens the config must agree with the tokenizer on
VISION_TOKENS = {"image_token_id": "<|image_pad|>", "video_token_id": "<|video_pad|>",
                 "vision_start_token_id": "<|vision_start|>", "vision_end_token_id": "<|vision_end|>"}  # fmt: skip


# --------------------------------------------------------------------------- sizes of a run


@dataclass(frozen=True)
class Scale:
    """Model shapes and workload sizes of a run: `GPU` (the published shapes) or `DRY` (tiny, CPU)."""

    name: str
    model_4b: tuple  # (preset, overrides merged into it)
    model_8b: tuple
    numerics_pixels: int  # side of the square image
    numerics_text_tokens: int
    train_pixels: int  # stage 2's resolution
    train_steps: int
    train_batch: int
    generate_pixels: int
    generate_new_tokens: int
    generate_batches: tuple
    generate_repeats: int
    grpo_generations: int
    grpo_completion_tokens: int
    grpo_steps: int
    fsdp_steps: int
    demo_fast: bool  # dry run: `medmo demo --fast` with a smaller plan (below)
    grpo_multiplier: int  # demo_grpo_10x: the demo's GRPO steps times this


GPU = Scale(name="gpu", model_4b=("medmo-4b", {}), model_8b=("medmo-8b", {}), numerics_pixels=768, numerics_text_tokens=256,
            train_pixels=1280, train_steps=10, train_batch=2, generate_pixels=768, generate_new_tokens=128, generate_batches=(1, 16),
            generate_repeats=3, grpo_generations=8, grpo_completion_tokens=256, grpo_steps=2, fsdp_steps=2, demo_fast=False,
            grpo_multiplier=10)  # fmt: skip
# Tiny stand-ins: the "4B" one ties its embeddings like MedMO-4B, the "8B" one does not; the tiny
# preset's vocabulary (1,024) is larger than the tokenizer's (631), as the real shapes' is.
DRY = Scale(name="dry-run", model_4b=("tiny", {"tie_word_embeddings": True}), model_8b=("tiny", {}), numerics_pixels=64,
            numerics_text_tokens=32, train_pixels=64, train_steps=3, train_batch=2, generate_pixels=64, generate_new_tokens=8,
            generate_batches=(1, 4), generate_repeats=1, grpo_generations=8, grpo_completion_tokens=8, grpo_steps=2, fsdp_steps=1, demo_fast=True,
            grpo_multiplier=2)  # fmt: skip
# The dry run's demo: `--fast` with fewer phantoms and one seed (the demo's own test runs `--fast` itself).
DRY_DEMO_PLAN = {"train_images": 8, "heldout_images": 4, "seeds": (0,)}


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    min_seconds: float  # started only if at least this much of the budget is left (GPU estimate)
    cap_seconds: float  # killed after this long (or when the budget runs out)
    needs: tuple = ()  # sections whose success this one needs


SECTIONS = (
    Section("environment", "Machine", 5, 90),
    Section("numerics", "bf16 numerics (4B shape)", 30, 150, ("environment",)),
    Section("sft_4b", "SFT training, 4B shape (training/sft.py)", 60, 240, ("environment",)),
    Section("generate", "Generation throughput", 45, 180, ("environment",)),
    Section("grpo_4b", "GRPO step, 4B shape (training/grpo.py)", 60, 240, ("environment",)),
    Section("lora_8b", "LoRA SFT, 8B shape (language_vision)", 60, 240, ("environment",)),
    Section("fsdp2", "FSDP2, one process (fsdp2.yaml)", 60, 240, ("environment",)),
    Section("demo", "medmo demo on the GPU", 120, 900, ("environment",)),
    Section("demo_grpo_10x", "Demo stage 4 at 10x GRPO steps vs SFT control", 60, 900, ("demo",)),
)
DRY_CAP_SECONDS = 300  # per section in the dry run: a hang fails the test instead of blocking it


# --------------------------------------------------------------------------- what a section process knows


@dataclass
class Context:
    """What the orchestrator hands each section process (as JSON)."""

    dry_run: bool
    work: str  # scratch folder (model folders, phantoms, outputs); deleted at the end unless --keep-work-dir
    section_dir: str
    deadline: float  # time.time() by which the section must be done
    peak_flops: float  # the MFU denominator
    matmul_flops: float | None = None  # measured in the environment section
    inject: str | None = None  # "raise" or "crash": --inject-failure, to test the isolation

    @property
    def scale(self) -> Scale:
        return DRY if self.dry_run else GPU

    @property
    def device(self) -> str:
        return "cpu" if self.dry_run else "cuda"

    def time_left(self) -> float:
        return self.deadline - time.time()

    def progress(self, results: dict) -> None:
        """Write partial results: a section killed at its time limit still reports them."""
        _write_json(Path(self.section_dir) / "partial.json", results)


# --------------------------------------------------------------------------- pure helpers (tested directly)


def skip_reason(section: Section, seconds_left: float, statuses: dict, dry_run: bool) -> str | None:
    """Why `section` must not start (a failed prerequisite or too little time), or None."""
    for need in section.needs:
        if statuses.get(need) != "ok":
            return f"needs {need}, which {'is ' + statuses[need] if need in statuses else 'did not run'}"
    needed = 1.0 if dry_run else section.min_seconds
    if seconds_left < needed:
        return f"skipped for time: needs at least {needed:.0f} s, {max(seconds_left, 0):.0f} s of the budget left"
    return None


def training_flops(groups: dict, text: dict, vision: dict, lm_tokens: float, samples: int, patches_per_image: int, lora: bool) -> dict:
    """Model and hardware FLOPs of one training step (the formula in the module docstring).

    `groups`: parameter counts `lm_body` (language model without its input embedding), `vit_per_patch`
    (patch embedding + blocks), `vit_merge` (merger + DeepStack mergers). `text` / `vision`: the config
    fields `vocab_size`, `hidden_size`, `num_hidden_layers`, `num_attention_heads`, `head_dim` /
    `hidden_size`, `depth`.
    """
    patches = samples * patches_per_image
    lm_matmul = 2 * (groups["lm_body"] + text["vocab_size"] * text["hidden_size"]) * lm_tokens
    vit_matmul = 2 * groups["vit_per_patch"] * patches + 2 * groups["vit_merge"] * patches / 4
    per_sample = lm_tokens / samples
    lm_attention = 2 * text["num_hidden_layers"] * text["num_attention_heads"] * text["head_dim"] * per_sample**2 * samples
    vit_attention = 4 * vision["depth"] * vision["hidden_size"] * patches_per_image**2 * samples
    matmul, attention = lm_matmul + vit_matmul, lm_attention + vit_attention
    model = (2 if lora else 3) * matmul + 3 * attention
    return {"forward": matmul + attention, "model": model, "hardware": model + matmul + attention,
            "attention_share": attention / (matmul + attention)}  # fmt: skip


def compare_logits(candidate, reference) -> dict:
    """Max |difference|, relative L2 difference and top-1 agreement of two [positions, vocab] tensors."""
    candidate, reference = candidate.float(), reference.float()
    difference = candidate - reference
    return {
        "max_abs": float(difference.abs().max()),
        "rel_l2": float(difference.norm() / reference.norm()),
        "top1_agreement": float((candidate.argmax(-1) == reference.argmax(-1)).float().mean()),
        "finite": bool(candidate.isfinite().all() and reference.isfinite().all()),
    }


def median(values: list[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


# --------------------------------------------------------------------------- models, processors, data


def _medmo_on_path() -> None:
    """Make `import medmo` (and the section processes' imports) resolve to this checkout: the
    repository root is the package, so on a machine where it is not installed a link named `medmo`
    in a temporary folder goes first on the path."""
    import importlib.util

    spec = importlib.util.find_spec("medmo")
    if spec is not None and spec.origin and Path(spec.origin).resolve().parent == REPO:
        return
    folder = Path(tempfile.gettempdir()) / f"medmo-gpu-check-path-{abs(hash(str(REPO))) % 10**8}"
    folder.mkdir(exist_ok=True)
    link = folder / "medmo"
    if not link.is_symlink() or link.resolve() != REPO:
        link.unlink(missing_ok=True)
        link.symlink_to(REPO, target_is_directory=True)
    sys.path.insert(0, str(folder))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))
    for name in [name for name in sys.modules if name == "medmo" or name.startswith("medmo.")]:
        del sys.modules[name]


def _tokenizer():
    from medmo.tiny import build_tokenizer

    return build_tokenizer()


def _processor(tokenizer, pixels: int):
    """The processor at a square resolution: images of `pixels` x `pixels` stay that size."""
    from medmo.tiny import build_processor

    return build_processor(tokenizer, min_pixels=pixels * pixels, max_pixels=pixels * pixels, patch_size=16)


def model_name(ctx: Context, which: str) -> str:
    """The preset behind `which` ("4b" / "8b"); in the dry run, which shape the tiny model stands in for."""
    preset = (ctx.scale.model_4b if which == "4b" else ctx.scale.model_8b)[0]
    return f"{preset} (as {which})" if ctx.dry_run else preset


def shaped_config(ctx: Context, which: str, tokenizer):
    """The preset's configuration with the tokenizer's special-token ids (vocabulary size kept)."""
    import copy

    from medmo import MedMOConfig

    preset, overrides = ctx.scale.model_4b if which == "4b" else ctx.scale.model_8b
    overrides = copy.deepcopy(overrides)
    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in VISION_TOKENS.items()}
    text = {"eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>"), "pad_token_id": tokenizer.pad_token_id,
            **overrides.pop("text_config", {})}  # fmt: skip
    config = MedMOConfig.from_preset(preset, text_config=text, **ids, **overrides)
    if config.text_config.vocab_size < len(tokenizer):
        raise ValueError(f"{preset}: vocabulary {config.text_config.vocab_size} is smaller than the tokenizer's {len(tokenizer)}")
    return config


def random_model(config, device: str, dtype, attn: str = "sdpa", seed: int = 0):
    """A MedMO with random weights built on `meta` and materialised directly on `device` in `dtype`."""
    import torch

    from medmo import MedMOForConditionalGeneration

    with torch.device("meta"):
        model = MedMOForConditionalGeneration._from_config(config, dtype=dtype, attn_implementation=attn)
    model.to_empty(device=device)
    torch.manual_seed(seed)
    with torch.no_grad():
        model.init_weights()  # also recomputes the rotary buffers that `to_empty` left uninitialised
    model.generation_config.eos_token_id = config.text_config.eos_token_id
    model.generation_config.pad_token_id = config.text_config.pad_token_id
    return model.eval()


def model_folder(ctx: Context, which: str) -> tuple[Path, float]:
    """A saved MedMO folder (random bf16 weights) at the 4B or 8B shape, built once per run; the
    seconds spent building it (0 when it was there)."""
    import shutil

    import torch

    from medmo.checkpoint import save_medmo_folder

    folder = Path(ctx.work) / f"model-{which}"
    if (folder / ".complete").is_file():
        return folder, 0.0
    shutil.rmtree(folder, ignore_errors=True)
    start = time.perf_counter()
    tokenizer = _tokenizer()
    model = random_model(shaped_config(ctx, which, tokenizer), ctx.device, torch.bfloat16)
    save_medmo_folder(model, _processor(tokenizer, ctx.scale.train_pixels), folder)
    del model
    _free_memory()
    (folder / ".complete").write_text("written by bench/gpu_check.py\n")
    return folder, time.perf_counter() - start


def phantom_data(ctx: Context) -> Path:
    """Phantom radiographs at the stage-2 resolution with every stage's JSONL (boxes in that frame)."""
    from medmo.training.data.phantom import write_phantom_dataset

    folder = Path(ctx.work) / "phantoms"
    if not (folder / ".complete").is_file():
        scale = ctx.scale
        count = max(scale.train_steps * scale.train_batch, scale.grpo_steps, scale.fsdp_steps * scale.train_batch)
        write_phantom_dataset(folder, _processor(_tokenizer(), scale.train_pixels), train=count, heldout=0, size=scale.train_pixels)
        (folder / ".complete").write_text("written by bench/gpu_check.py\n")
    return folder


def image_inputs(processor, pixels: int, batch: int = 1, text_tokens: int | None = None, seed: int = 0) -> dict:
    """Processor inputs for `batch` copies of one phantom (`pixels` square) and a short prompt; with
    `text_tokens`, random word ids are appended until exactly that many tokens are not image tokens."""
    import torch

    from medmo.tiny import QWEN3_ADDED_TOKENS
    from medmo.sources.phantom import make_phantom

    image = make_phantom(seed, size=pixels).image
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe the findings."}]}]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = dict(processor(text=[prompt] * batch, images=[image] * batch, return_tensors="pt"))
    if text_tokens is not None:
        image_token = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
        missing = text_tokens - int((inputs["input_ids"][0] != image_token).sum())
        if missing < 0:
            raise ValueError(f"the prompt alone has more than {text_tokens} text tokens")
        words = len(processor.tokenizer) - len(QWEN3_ADDED_TOKENS)  # the BPE's own ids; Qwen3's special tokens follow
        extra = torch.randint(0, words, (batch, missing), generator=torch.Generator().manual_seed(seed))
        inputs["input_ids"] = torch.cat([inputs["input_ids"], extra], dim=1)
        inputs["attention_mask"] = torch.cat([inputs["attention_mask"], torch.ones_like(extra)], dim=1)
        inputs["mm_token_type_ids"] = torch.cat([inputs["mm_token_type_ids"], torch.zeros_like(extra)], dim=1)
    return inputs


def cast_parameters(model, dtype) -> None:
    """Parameters to `dtype`, buffers (the rotary frequencies) left in fp32: what loading in `dtype`
    and FSDP's mixed precision do, where `model.to(dtype)` would round the frequencies too."""
    import torch

    with torch.no_grad():
        for parameter in model.parameters():
            parameter.data = parameter.data.to(dtype)


def _free_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _sync(device: str):
    import torch

    return torch.cuda.synchronize if device == "cuda" else (lambda: None)


def _reset_peak_memory(device: str) -> None:
    """Peak memory from here on (not the model folder's creation earlier in the process)."""
    import torch

    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()


def _peak_memory_gib(device: str) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None


def step_timer(sync):
    """A TrainerCallback that times every optimizer step (synchronised) and every `model.generate`."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.begins, self.ends, self.generate_seconds = [], [], []

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            original = model.generate

            def timed_generate(*positional, **keywords):
                sync()
                start = time.perf_counter()
                output = original(*positional, **keywords)
                sync()
                self.generate_seconds.append(time.perf_counter() - start)
                return output

            model.generate = timed_generate

        def on_step_begin(self, args, state, control, **kwargs):
            sync()
            self.begins.append(time.perf_counter())

        def on_step_end(self, args, state, control, **kwargs):
            sync()
            self.ends.append(time.perf_counter())

        def step_seconds(self) -> tuple[list[float], list[float]]:
            """Per step after the first: wall (end to end, data loading included) and compute (begin to end)."""
            wall = [later - earlier for earlier, later in zip(self.ends, self.ends[1:])]
            compute = [end - begin for begin, end in zip(self.begins[1:], self.ends[1:])]
            return wall, compute

    return StepTimer()


def with_callback(trainer_class, callback):
    """`trainer_class` with `callback` added at construction (the scripts build their own trainer)."""

    class Timed(trainer_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.add_callback(callback)

    Timed.__name__ = Timed.__qualname__ = trainer_class.__name__
    return Timed


def parameter_groups(model) -> dict:
    """Parameter counts by role (see `training_flops`); adapters (`lora_`) counted apart."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    groups = dict.fromkeys(("lm_body", "lm_embed", "vit_per_patch", "vit_merge", "vit_position", "lm_head", "lora"), 0)
    for name, parameter in base.named_parameters():
        count = parameter.numel()
        if "lora_" in name:
            groups["lora"] += count
        elif name.startswith("model.language_model.embed_tokens."):
            groups["lm_embed"] += count
        elif name.startswith("model.language_model."):
            groups["lm_body"] += count
        elif name.startswith("lm_head."):
            groups["lm_head"] += count
        elif name.startswith("model.visual.pos_embed."):
            groups["vit_position"] += count
        elif name.startswith(("model.visual.merger.", "model.visual.deepstack_merger_list.")):
            groups["vit_merge"] += count
        elif name.startswith("model.visual."):
            groups["vit_per_patch"] += count
        else:
            raise ValueError(f"parameter {name} belongs to no known part of MedMO")
    groups["trainable"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    groups["total"] = sum(value for key, value in groups.items() if key not in ("trainable", "lora"))
    return groups


def _config_fields(config) -> tuple[dict, dict]:
    text, vision = config.text_config, config.vision_config
    text_fields = {key: getattr(text, key) for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads")}
    text_fields["head_dim"] = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
    return text_fields, {"depth": vision.depth, "hidden_size": vision.hidden_size}


# --------------------------------------------------------------------------- sections


def section_environment(ctx: Context) -> dict:
    import platform

    import torch

    versions = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda}
    for name in ("transformers", "trl", "peft", "accelerate", "datasets", "huggingface_hub", "tokenizers", "safetensors", "numpy", "pyarrow",
                 "fsspec"):  # fmt: skip
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = None
    result = {"versions": versions, "cpu_count": os.cpu_count(), "platform": platform.platform()}
    if ctx.device == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("No CUDA GPU is visible: run on a GPU machine, or pass --dry-run for the CPU check.")
        properties = torch.cuda.get_device_properties(0)
        result.update(device=properties.name, memory_gib=round(properties.total_memory / 2**30, 1),
                      capability=f"{properties.major}.{properties.minor}", multiprocessors=properties.multi_processor_count)  # fmt: skip
        query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
        smi = subprocess.run(query, capture_output=True, text=True, check=False)
        result["driver"] = smi.stdout.strip() or None
        size, dtype, runs = 8192, torch.bfloat16, 10
    else:
        result["device"] = f"CPU ({platform.processor() or platform.machine()})"
        size, dtype, runs = 512, torch.float32, 5
    generator = torch.Generator(device=ctx.device).manual_seed(0)
    left = torch.randn(size, size, dtype=dtype, device=ctx.device, generator=generator)
    right = torch.randn(size, size, dtype=dtype, device=ctx.device, generator=generator)
    sync = _sync(ctx.device)
    for _ in range(3):
        left @ right
    sync()
    start = time.perf_counter()
    for _ in range(runs):
        left @ right
    sync()
    result["matmul_tflops"] = 2 * size**3 * runs / (time.perf_counter() - start) / 1e12
    result["matmul"] = f"{size}^3 {str(dtype).removeprefix('torch.')}, mean of {runs} after 3 warm-ups"
    return result


def section_numerics(ctx: Context) -> dict:
    import torch

    scale = ctx.scale
    # the fp32 reference is plain fp32: no TF32 in matmuls or in the patch embedding's convolution
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    tokenizer = _tokenizer()
    processor = _processor(tokenizer, scale.numerics_pixels)
    config = shaped_config(ctx, "4b", tokenizer)
    model = random_model(config, ctx.device, torch.float32)
    inputs = image_inputs(processor, scale.numerics_pixels, text_tokens=scale.numerics_text_tokens)
    inputs = {key: value.to(ctx.device) for key, value in inputs.items()}
    text_positions = inputs["mm_token_type_ids"][0] == 0

    def logits():
        with torch.no_grad():
            return model(**inputs).logits[0, text_positions].float()

    fp32 = logits()
    cast_parameters(model, torch.bfloat16)
    bf16_sdpa = logits()
    model.set_attn_implementation("eager")
    bf16_eager = logits()
    pairs = {"bf16 SDPA vs fp32": compare_logits(bf16_sdpa, fp32), "bf16 eager vs fp32": compare_logits(bf16_eager, fp32),
             "bf16 SDPA vs bf16 eager": compare_logits(bf16_sdpa, bf16_eager)}  # fmt: skip
    top2 = fp32.topk(2, dim=-1).values
    against_fp32 = ("bf16 SDPA vs fp32", "bf16 eager vs fp32")
    return {
        "model": model_name(ctx, "4b"),
        "image": f"{scale.numerics_pixels}x{scale.numerics_pixels}",
        "image_tokens": int((inputs["mm_token_type_ids"][0] == 1).sum()),
        "text_positions": int(text_positions.sum()),
        "fp32_logit_std": float(fp32.std()),
        "fp32_top1_margin_median": float((top2[:, 0] - top2[:, 1]).median()),
        "pairs": pairs,
        # bf16 carries 8 bits of mantissa: its logits should stay within a few percent of fp32's
        "checks": {"finite": all(pair["finite"] for pair in pairs.values()),
                   "bf16_vs_fp32_rel_l2_below_0.05": all(pairs[name]["rel_l2"] < 0.05 for name in against_fp32)},
    }  # fmt: skip


def _train_argv(ctx: Context, recipe: str, folder: Path, data: Path, output: Path, steps: int, *extra: str) -> list[str]:
    pixels = str(ctx.scale.train_pixels**2)
    return ["--config", str(RECIPES / recipe), "--model_name_or_path", str(folder), "--output_dir", str(output),
            "--datasets", json.dumps([{"path": str(data / "stage2_grounding.jsonl")}]), "--min_pixels", pixels, "--max_pixels", pixels,
            # flash-attn is not installed on the GPU image; SDPA is torch's own fused attention
            "--attn_implementation", "sdpa", "--max_steps", str(steps), "--per_device_train_batch_size", str(ctx.scale.train_batch),
            "--gradient_accumulation_steps", "1", "--logging_steps", "1", "--save_strategy", "no", "--report_to", "none",
            "--disable_tqdm", "true", *_cpu_flag(ctx), *extra]  # fmt: skip


def _cpu_flag(ctx: Context) -> tuple[str, ...]:
    # transformers refuses the recipes' `bf16: true` on a CPU unless told the CPU is meant
    return ("--use_cpu", "true") if ctx.dry_run else ()


def _training_numbers(ctx: Context, trainer, timer, lora: bool, patches_per_image: int) -> dict:
    """Throughput, MFU and memory of a finished training run (steps after the first)."""
    import math

    scale = ctx.scale
    wall, compute = timer.step_seconds()
    logged = {entry["step"]: entry for entry in trainer.state.log_history if "num_tokens" in entry and "step" in entry}
    cumulative = [logged[step]["num_tokens"] for step in sorted(logged)]
    tokens = [later - earlier for earlier, later in zip(cumulative, cumulative[1:])]
    groups = parameter_groups(trainer.model)
    text, vision = _config_fields(trainer.model.config)
    lm_tokens = median(tokens)
    flops = training_flops(groups, text, vision, lm_tokens, scale.train_batch, patches_per_image, lora)
    wall_s, compute_s = median(wall), median(compute)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return {
        "parameters": groups["total"], "trainable": groups["trainable"], "lora_parameters": groups["lora"],
        "batch": scale.train_batch, "image": f"{scale.train_pixels}x{scale.train_pixels}", "steps": trainer.state.global_step,
        "measured_steps": len(wall), "lm_tokens_per_step": lm_tokens, "patches_per_step": scale.train_batch * patches_per_image,
        "step_seconds_wall": wall_s, "step_seconds_compute": compute_s,
        "tokens_per_second": lm_tokens / wall_s, "samples_per_second": scale.train_batch / wall_s,
        "model_tflop_per_step": flops["model"] / 1e12, "attention_share": flops["attention_share"],
        "mfu": flops["model"] / wall_s / ctx.peak_flops, "mfu_compute": flops["model"] / compute_s / ctx.peak_flops,
        "hfu": flops["hardware"] / wall_s / ctx.peak_flops,
        "mfu_vs_measured_matmul": flops["model"] / wall_s / ctx.matmul_flops if ctx.matmul_flops else None,
        "peak_memory_gib": _peak_memory_gib(ctx.device), "losses": losses,
        "checks": {"all_steps_ran": trainer.state.global_step == scale.train_steps and len(wall) == scale.train_steps - 1,
                   "finite_losses": bool(losses) and all(math.isfinite(loss) for loss in losses)},
    }  # fmt: skip


def _run_sft(ctx: Context, which: str, recipe: str, lora: bool) -> dict:
    import shutil

    import trl

    from medmo.training import sft

    folder, folder_seconds = model_folder(ctx, which)
    data = phantom_data(ctx)
    output = Path(ctx.work) / f"sft-{which}"
    timer = step_timer(_sync(ctx.device))
    sft.SFTTrainer = with_callback(trl.SFTTrainer, timer)
    _reset_peak_memory(ctx.device)
    start = time.perf_counter()
    extra = ("--lora_preset", "language_vision") if lora else ()
    trainer = sft.main(_train_argv(ctx, recipe, folder, data, output, ctx.scale.train_steps, *extra))
    main_seconds = time.perf_counter() - start
    patches = (ctx.scale.train_pixels // 16) ** 2
    result = _training_numbers(ctx, trainer, timer, lora=lora, patches_per_image=patches)
    train_seconds = next(entry["train_runtime"] for entry in trainer.state.log_history if "train_runtime" in entry)
    result.update(model=model_name(ctx, which), recipe=recipe, folder_seconds=folder_seconds,
                  script_seconds=main_seconds, train_seconds=train_seconds, output_gib=_folder_gib(output))  # fmt: skip
    shutil.rmtree(output, ignore_errors=True)
    return result


def section_sft_4b(ctx: Context) -> dict:
    return _run_sft(ctx, "4b", "medmo-4b/stage2_grounding.yaml", lora=False)


def section_lora_8b(ctx: Context) -> dict:
    import shutil

    result = _run_sft(ctx, "8b", "medmo-8b/finetune_lora.yaml", lora=True)
    result["checks"]["adapters_only_trainable"] = 0 < result["trainable"] == result["lora_parameters"]
    shutil.rmtree(Path(ctx.work) / "model-8b", ignore_errors=True)  # 17.5 GB the rest does not need
    return result


def section_generate(ctx: Context) -> dict:
    import torch

    scale = ctx.scale
    sync = _sync(ctx.device)
    tokenizer = _tokenizer()
    processor = _processor(tokenizer, scale.generate_pixels)
    rows, all_new = [], True
    for which in ("4b", "8b"):
        config = shaped_config(ctx, which, tokenizer)
        model = random_model(config, ctx.device, torch.bfloat16)
        groups = parameter_groups(model)
        decode_bytes = 2 * (groups["lm_body"] + config.text_config.vocab_size * config.text_config.hidden_size)
        for batch in scale.generate_batches:
            inputs = {k: v.to(ctx.device) for k, v in image_inputs(processor, scale.generate_pixels, batch=batch).items()}

            def generate(tokens: int):
                sync()
                start = time.perf_counter()
                with torch.no_grad():
                    output = model.generate(**inputs, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
                sync()
                return time.perf_counter() - start, output.shape[1] - inputs["input_ids"].shape[1]

            generate(min(8, scale.generate_new_tokens))  # warm-up
            first = median([generate(1)[0] for _ in range(scale.generate_repeats)])
            runs = [generate(scale.generate_new_tokens) for _ in range(scale.generate_repeats)]
            all_new &= all(new == scale.generate_new_tokens for _, new in runs)
            seconds = median([s for s, _ in runs])
            step = (seconds - first) / (scale.generate_new_tokens - 1)
            rows.append({"model": model_name(ctx, which), "batch": batch,
                         "prompt_tokens": int(inputs["input_ids"].shape[1]), "time_to_first_token_s": first, "seconds": seconds,
                         "tokens_per_second": batch * scale.generate_new_tokens / seconds, "decode_tokens_per_second": batch / step,
                         "decode_step_ms": step * 1e3,
                         "bandwidth_floor_step_ms": decode_bytes / H200_HBM_BYTES_PER_S * 1e3 if ctx.device == "cuda" else None,
                         })  # fmt: skip
            ctx.progress({"rows": rows})
        del model
        _free_memory()
    return {"image": f"{scale.generate_pixels}x{scale.generate_pixels}", "new_tokens": scale.generate_new_tokens,
            "repeats": scale.generate_repeats, "rows": rows, "peak_memory_gib": _peak_memory_gib(ctx.device),
            "checks": {"exact_new_token_count": all_new, "positive_throughput": all(r["tokens_per_second"] > 0 for r in rows)}}  # fmt: skip


def section_grpo_4b(ctx: Context) -> dict:
    import math
    import shutil

    import trl

    from medmo.training import grpo

    scale = ctx.scale
    folder, folder_seconds = model_folder(ctx, "4b")
    data = phantom_data(ctx)
    output = Path(ctx.work) / "grpo-4b"
    timer = step_timer(_sync(ctx.device))
    grpo.GRPOTrainer = with_callback(trl.GRPOTrainer, timer)
    _reset_peak_memory(ctx.device)
    pixels = str(scale.train_pixels**2)
    argv = ["--config", str(RECIPES / "medmo-4b" / "stage4_grpo.yaml"), "--model_name_or_path", str(folder), "--output_dir", str(output),
            "--datasets", json.dumps([{"path": str(data / "stage4_grpo.jsonl")}]), "--min_pixels", pixels, "--max_pixels", pixels,
            "--use_vllm", "false", "--attn_implementation", "sdpa", "--num_generations", str(scale.grpo_generations),
            "--per_device_train_batch_size", str(scale.grpo_generations), "--gradient_accumulation_steps", "1",
            "--max_completion_length", str(scale.grpo_completion_tokens), "--max_steps", str(scale.grpo_steps),
            "--logging_steps", "1", "--save_strategy", "no", "--report_to", "none", "--disable_tqdm", "true", *_cpu_flag(ctx)]  # fmt: skip
    start = time.perf_counter()
    trainer = grpo.main(argv)
    script_seconds = time.perf_counter() - start
    steps = [end - begin for begin, end in zip(timer.begins, timer.ends)]
    lengths = [entry["completions/mean_length"] for entry in trainer.state.log_history if "completions/mean_length" in entry]
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    completion_tokens = [length * scale.grpo_generations for length in lengths]
    result = {
        "model": model_name(ctx, "4b"), "generations": scale.grpo_generations, "max_completion_tokens": scale.grpo_completion_tokens,
        "image": f"{scale.train_pixels}x{scale.train_pixels}", "steps": trainer.state.global_step, "step_seconds": steps,
        "generate_seconds": timer.generate_seconds, "completion_tokens_per_step": completion_tokens,
        "generation_tokens_per_second": completion_tokens[-1] / timer.generate_seconds[-1] if timer.generate_seconds else None,
        "peak_memory_gib": _peak_memory_gib(ctx.device), "folder_seconds": folder_seconds, "script_seconds": script_seconds,
        "output_gib": _folder_gib(output),
        "checks": {"all_steps_ran": trainer.state.global_step == scale.grpo_steps,
                   "generate_timed": len(timer.generate_seconds) >= scale.grpo_steps == len(completion_tokens),
                   "finite_losses": bool(losses) and all(math.isfinite(loss) for loss in losses)},
    }  # fmt: skip
    shutil.rmtree(output, ignore_errors=True)
    return result


def section_fsdp2(ctx: Context) -> dict:
    """Launch the FSDP run (`--fsdp-inner` below) through accelerate, then reload its sharded save here."""
    import shutil

    import torch
    import torch.distributed.checkpoint as dcp

    from medmo import MedMOConfig

    folder, folder_seconds = model_folder(ctx, "4b")
    data = phantom_data(ctx)
    run_dir = Path(ctx.work) / "fsdp2"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    spec = {"argv": _train_argv(ctx, "medmo-4b/stage2_grounding.yaml", folder, data, run_dir / "output", ctx.scale.fsdp_steps),
            "run_dir": str(run_dir), "model_dir": str(folder), "pixels": ctx.scale.train_pixels}  # fmt: skip
    _write_json(run_dir / "spec.json", spec)
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(FSDP_CONFIG), "--num_processes", "1",
               "--main_process_port", str(_free_port()), str(Path(__file__).resolve()), "--fsdp-inner", str(run_dir / "spec.json"),
               ]  # fmt: skip
    start = time.perf_counter()
    # no timeout here: at the section's deadline the orchestrator kills this process and every descendant
    with open(Path(ctx.section_dir) / "fsdp_launch.log", "w") as log:
        launched = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
    launch_seconds = time.perf_counter() - start
    if launched.returncode != 0:
        tail = (Path(ctx.section_dir) / "fsdp_launch.log").read_text(errors="replace")[-4000:]
        raise RuntimeError(f"accelerate launch exited with {launched.returncode}:\n{tail}")
    inner = json.loads((run_dir / "inner.json").read_text())

    # ---- a fresh process (this one, never wrapped) loads the sharded save into a plain model
    start = time.perf_counter()
    saved = torch.load(run_dir / "logits.pt")
    model = random_model(MedMOConfig.from_pretrained(folder), ctx.device, getattr(torch, inner["stored_dtype"]))
    reader = dcp.FileSystemReader(inner["checkpoint"])
    stored = set(reader.read_metadata().state_dict_metadata)
    wanted = {f"model.{name}": tensor for name, tensor in model.state_dict().items()}
    missing = sorted(set(wanted) - stored)
    tied = {"model.lm_head.weight"} if model.config.tie_word_embeddings else set()
    dcp.load({key: wanted[key] for key in wanted if key in stored}, storage_reader=reader)
    model.tie_weights()
    cast_parameters(model, getattr(torch, inner["compute_dtype"]))
    batch = {key: value.to(ctx.device) for key, value in saved["batch"].items()}
    with torch.no_grad():
        logits = model(**batch).logits[0, -saved["logits"].shape[0] :].float().cpu()
    reload = compare_logits(logits, saved["logits"])
    reload.update(equal=bool(torch.equal(logits, saved["logits"])), missing_keys=missing, seconds=time.perf_counter() - start)
    expected = inner["expected_wrapped"]
    result = {**inner, "reload": reload, "launch_seconds": launch_seconds, "folder_seconds": folder_seconds,
              "checkpoint_gib": _folder_gib(Path(inner["checkpoint"]))}  # fmt: skip
    result["checks"] = {
        "wrapped_as_configured": all(inner["wrapped"].get(name, 0) == count for name, count in expected.items()),
        "stepped": inner["steps"] >= 1 and inner["optimizer_steps"] >= 1,
        "reload_has_every_weight": set(missing) <= tied,
        # same weights, same kernels: the reloaded model's logits are the FSDP model's, to within
        # bf16 rounding of the inputs' cast (exact equality is recorded beside)
        "reload_logits_match": reload["top1_agreement"] == 1.0 and reload["rel_l2"] < 1e-3,
    }
    if not inner["final_folder_has_weights"]:
        result["notes"] = ["training/sft.py's final folder has no model weights: under fsdp2.yaml's SHARDED_STATE_DICT, "
                           "Trainer.save_model saves nothing (transformers saves only FULL_STATE_DICT there)."]  # fmt: skip
    shutil.rmtree(run_dir, ignore_errors=True)
    return result


def fsdp_inner(spec_path: str) -> None:
    """Runs under `accelerate launch`: `training/sft.py` with FSDP2, then the wrapping report, a
    sharded save, and the FSDP model's logits on a fixed batch for the reload check."""
    import torch
    from accelerate.utils import FullyShardedDataParallelPlugin, save_fsdp_model
    from torch.distributed.fsdp import FSDPModule

    from medmo.training import sft
    from medmo.loading import load_processor

    spec = json.loads(Path(spec_path).read_text())
    run_dir = Path(spec["run_dir"])
    trainer = sft.main(spec["argv"])
    model = trainer.model
    output = Path(trainer.args.output_dir)
    final_has_weights = any(output.glob("*.safetensors"))
    layer_classes = _fsdp_layer_classes()
    config = model.config
    expected = {"Qwen3VLTextDecoderLayer": config.text_config.num_hidden_layers, "Qwen3VLVisionBlock": config.vision_config.depth}
    optimizer_steps = trainer.state.global_step
    if trainer.is_fsdp_enabled:
        wrapped_by, plugin = "accelerate (fsdp2.yaml)", trainer.accelerator.state.fsdp_plugin
    else:
        # CPU: accelerate leaves FSDP off. Wrap the trained model with torch's fully_shard on the
        # launcher's one-process group, as fsdp2.yaml's policy would, and take one step.
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        mesh = init_device_mesh("cpu", (1,))
        for module in model.modules():
            if type(module).__name__ in layer_classes:
                fully_shard(module, mesh=mesh)
        fully_shard(model, mesh=mesh)
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
        step_batch = next(iter(trainer.get_train_dataloader()))
        model(**step_batch).loss.backward()
        optimizer.step()
        optimizer_steps += 1
        wrapped_by = "torch fully_shard (dry run: accelerate leaves FSDP off on a CPU)"
        plugin = FullyShardedDataParallelPlugin(fsdp_version=2, state_dict_type="SHARDED_STATE_DICT")
    wrapped = {}
    for module in model.modules():
        if isinstance(module, FSDPModule):  # fully_shard swaps in a class named FSDP<original>
            name = type(module).__name__.removeprefix("FSDP")
            wrapped[name] = wrapped.get(name, 0) + 1
    start = time.perf_counter()
    save_fsdp_model(plugin, trainer.accelerator, model, run_dir / "sharded")
    save_seconds = time.perf_counter() - start
    stored_dtype = next(model.parameters()).dtype
    # FSDP2 casts parameters to the mixed-precision policy's dtype for compute (none: their own)
    compute_dtype = getattr(getattr(plugin, "mixed_precision_policy", None), "param_dtype", None) or stored_dtype
    processor = load_processor(spec["model_dir"], spec["pixels"] ** 2, spec["pixels"] ** 2)
    device = next(model.parameters()).device
    batch = image_inputs(processor, spec["pixels"], seed=1)
    model.eval()
    with torch.no_grad():
        logits = model(**{key: value.to(device) for key, value in batch.items()}).logits[0, -16:].float().cpu()
    torch.save({"batch": batch, "logits": logits}, run_dir / "logits.pt")
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    _write_json(run_dir / "inner.json", {
        "wrapped_by": wrapped_by, "wrapped": wrapped, "expected_wrapped": expected, "steps": trainer.state.global_step,
        "optimizer_steps": optimizer_steps, "losses": losses, "stored_dtype": str(stored_dtype).removeprefix("torch."),
        "compute_dtype": str(compute_dtype).removeprefix("torch."), "save_seconds": save_seconds,
        "checkpoint": str(run_dir / "sharded" / "pytorch_model_fsdp_0"), "final_folder_has_weights": final_has_weights,
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None,
    })  # fmt: skip


def _fsdp_layer_classes() -> set[str]:
    import yaml

    config = yaml.safe_load(FSDP_CONFIG.read_text())
    return {name.strip() for name in config["fsdp_config"]["fsdp_transformer_layer_cls_to_wrap"].split(",")}


def section_demo(ctx: Context) -> dict:
    from medmo import demo
    from medmo.cli import main as cli

    output = Path(ctx.work) / "demo"
    argv = ["demo", "--output", str(output), "--device", ctx.device]
    if ctx.scale.demo_fast:
        demo.FAST = replace(demo.FAST, **DRY_DEMO_PLAN)
        argv.append("--fast")
    status = cli(argv)
    if status:
        raise RuntimeError(f"medmo demo exited with {status}")
    report = json.loads((output / "report.json").read_text())
    table = (output / "report.md").read_text()
    (Path(ctx.section_dir) / "demo_report.md").write_text(table)
    control = report["grpo_vs_sft_control"]
    return {"total_seconds": report["total_seconds"], "plan": report["plan"], "stages": report["stages"],
            "constant_box_baseline": report["constant_box_baseline"], "grpo_vs_sft_control": control["summary"],
            "grpo_steps": control["grpo_steps"], "seeds": control["seeds"], "report_md": table,
            "checks": {"four_stages": [row["stage"] for row in report["stages"]] == ["stage1", "stage2", "stage3", "stage4"]}}  # fmt: skip


def section_demo_grpo_10x(ctx: Context) -> dict:
    from medmo import demo

    demo_dir = Path(ctx.work) / "demo"
    report = json.loads((demo_dir / "report.json").read_text())
    control = report["grpo_vs_sft_control"]
    multiplier = ctx.scale.grpo_multiplier
    plan = demo.Plan(**{**report["plan"], "seeds": tuple(report["plan"]["seeds"]), "grpo_steps": multiplier * report["plan"]["grpo_steps"]})
    # GRPO and its time-matched control both run `multiplier` times as long; evaluation adds about a fifth
    arms = sum(run["seconds"] for arm in control["runs"].values() for run in arm)
    estimate = multiplier * arms * 1.2
    # the dry run's one-step arms are all set-up, which does not grow with the steps: its estimate is only recorded
    if estimate > ctx.time_left() and not ctx.dry_run:
        return {"status": "skipped", "reason": f"skipped for time: needs about {estimate:.0f} s, {ctx.time_left():.0f} s left",
                "estimate_seconds": estimate}  # fmt: skip
    result = demo.grpo_vs_control(demo_dir / "stage3", Path(ctx.work) / "grpo-10x", demo_dir / "data" / "phantom",
                                  demo.heldout_samples(demo_dir / "data"), plan, control["sft_seconds_per_step"])  # fmt: skip
    return {"grpo_steps": plan.grpo_steps, "seeds": list(plan.seeds), "summary": result["summary"], "runs": result["runs"],
            "demo_summary": control["summary"], "demo_grpo_steps": control["grpo_steps"], "estimate_seconds": estimate,
            "checks": {"every_seed_ran": len(result["runs"]["grpo"]) == len(result["runs"]["sft_control"]) == len(plan.seeds)}}  # fmt: skip


SECTION_FUNCTIONS = {"environment": section_environment, "numerics": section_numerics, "sft_4b": section_sft_4b,
                     "generate": section_generate, "grpo_4b": section_grpo_4b, "lora_8b": section_lora_8b, "fsdp2": section_fsdp2,
                     "demo": section_demo, "demo_grpo_10x": section_demo_grpo_10x}  # fmt: skip


# --------------------------------------------------------------------------- a section's process


class InjectedFailure(RuntimeError):
    """Raised by --inject-failure SECTION:raise (tests of the isolation)."""


def run_section(name: str, ctx: Context) -> None:
    """Run one section in this process and write its `result.json`."""
    result_path = Path(ctx.section_dir) / "result.json"
    try:
        if ctx.inject == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        if ctx.inject == "raise":
            raise InjectedFailure(f"failure injected into {name} by --inject-failure")
        results = SECTION_FUNCTIONS[name](ctx)
        status = results.pop("status", None) or ("ok" if all(results.get("checks", {}).values()) else "check_failed")
        outcome = {"status": status, "reason": results.pop("reason", None), "results": results}
    except Exception as error:  # recorded, never hidden: the orchestrator reports it and runs the rest
        outcome = {"status": "failed", "error": f"{type(error).__name__}: {error}"[:2000], "traceback_tail": traceback.format_exc()[-4000:]}
    _write_json(result_path, outcome)


def worker_main(name: str, context_path: str) -> None:
    _medmo_on_path()
    run_section(name, Context(**json.loads(Path(context_path).read_text())))


# --------------------------------------------------------------------------- the orchestrator


def _write_json(path: Path, data) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    temporary.replace(path)


def _folder_gib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**30 if folder.exists() else 0.0


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _tail(path: Path, characters: int) -> str:
    return path.read_text(errors="replace")[-characters:] if path.is_file() else ""


def _isolated(section: Section, ctx: Context, timeout: float, isolation: str) -> dict:
    """Run `section` in a child process (forked, or a fresh interpreter) within `timeout` seconds."""
    section_dir = Path(ctx.section_dir)
    log_path = section_dir / "output.log"
    context_path = section_dir / "context.json"
    _write_json(context_path, asdict(ctx))
    with open(log_path, "w") as log:
        if isolation == "fork":
            pid = os.fork()
            if pid == 0:  # the child: its own process group (so its launchers die with it), output to the log
                os.setsid()
                os.dup2(log.fileno(), 1)
                os.dup2(log.fileno(), 2)
                code = 0
                try:
                    run_section(section.name, ctx)
                except BaseException:
                    traceback.print_exc()
                    code = 1
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            process = None
        else:
            command = [sys.executable, "-u", str(Path(__file__).resolve()), "--worker", section.name, "--context", str(context_path)]
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            pid = process.pid
        exit_status, timed_out, cpu_seconds = _wait(pid, process, timeout)
    outcome = {}
    if (section_dir / "result.json").is_file():
        outcome = json.loads((section_dir / "result.json").read_text())
    elif timed_out:
        outcome = {"status": "timeout", "error": f"killed after {timeout:.0f} s (its cap or the budget's end)"}
        if (section_dir / "partial.json").is_file():
            outcome["results"] = json.loads((section_dir / "partial.json").read_text())
    else:
        outcome = {"status": "failed", "error": f"the section's process ended without a result ({exit_status})"}
    if outcome["status"] not in ("ok", "skipped"):
        outcome["log_tail"] = _tail(log_path, 4000)
    outcome["cpu_seconds"] = round(cpu_seconds, 1)
    return outcome


def _kill_tree(pid: int) -> None:
    """SIGKILL the child, its process group and every descendant (torchrun starts its workers in
    sessions of their own, so the group alone would leave them holding the GPU)."""
    try:
        import psutil

        descendants = psutil.Process(pid).children(recursive=True)
    except Exception:  # psutil missing or the child already gone: the group kill below still runs
        descendants = []
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL),
                   *[(lambda p=p: p.kill()) for p in descendants]):  # fmt: skip
        try:
            target()
        except (ProcessLookupError, PermissionError, OSError):
            pass
        except Exception as error:  # psutil.NoSuchProcess and friends
            if type(error).__name__ not in ("NoSuchProcess", "ZombieProcess", "AccessDenied"):
                raise


def _wait(pid: int, process, timeout: float) -> tuple[str, bool, float]:
    """Wait for the child; on timeout kill it with every descendant. (exit description, timed out,
    CPU seconds of the child and the descendants it waited for)."""
    deadline = time.time() + timeout
    while True:
        finished, status, usage = os.wait4(pid, os.WNOHANG)
        if finished:
            break
        if time.time() > deadline:
            _kill_tree(pid)
            _, status, usage = os.wait4(pid, 0)
            break
        time.sleep(0.2)
    code = os.waitstatus_to_exitcode(status)
    if process is not None:
        process.returncode = code  # reaped here, not by Popen
    described = f"exit code {code}" if code >= 0 else f"killed by signal {-code}"
    return described, not finished, usage.ru_utime + usage.ru_stime


def _preimport() -> None:
    """Fork mode: import the heavy libraries once in the parent so each forked section starts at once
    (the parent itself never touches a GPU)."""
    for name in ("torch", "transformers", "peft", "trl", "datasets", "accelerate", "medmo.training.sft", "medmo.training.grpo",
                 "medmo.demo", "medmo.cli", "medmo.evaluation.runner", "medmo.evaluation.metrics"):  # fmt: skip
        try:
            __import__(name)
        except ImportError:  # the section that needs it reports the missing package
            pass


def orchestrate(args: argparse.Namespace) -> int:
    start = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="medmo-gpu-check-"))
    work.mkdir(parents=True, exist_ok=True)
    chosen = _chosen_sections(args.sections)
    injected = dict(item.split(":", 1) for item in args.inject_failure)
    report = {"mode": "dry-run" if args.dry_run else "gpu", "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
              "budget_seconds": args.budget_seconds, "peak_tflops": args.peak_tflops if not args.dry_run else None,
              "isolation": args.isolation, "command": sys.argv, "work_dir": str(work), "sections": {}}  # fmt: skip
    if args.isolation == "fork":
        _preimport()
    statuses = {}
    peak_flops = args.peak_tflops * 1e12
    matmul_flops = None
    for section in SECTIONS:
        if section.name not in chosen:
            continue
        left = args.budget_seconds - (time.time() - start)
        reason = skip_reason(section, left, statuses, args.dry_run)
        if reason is not None:
            statuses[section.name] = "skipped"
            report["sections"][section.name] = {"status": "skipped", "reason": reason, "seconds": 0.0}
            _log(f"{section.name}: {reason}")
            _write_outputs(report, out, work)
            continue
        timeout = min(DRY_CAP_SECONDS if args.dry_run else section.cap_seconds, left)
        section_dir = work / "sections" / section.name
        section_dir.mkdir(parents=True, exist_ok=True)
        for stale in ("result.json", "partial.json"):
            (section_dir / stale).unlink(missing_ok=True)
        ctx = Context(dry_run=args.dry_run, work=str(work), section_dir=str(section_dir), deadline=time.time() + timeout,
                      peak_flops=peak_flops, matmul_flops=matmul_flops, inject=injected.get(section.name))  # fmt: skip
        _log(f"{section.name}: started ({timeout:.0f} s at most)")
        began = time.time()
        outcome = _isolated(section, ctx, timeout, args.isolation)
        outcome["seconds"] = round(time.time() - began, 1)
        statuses[section.name] = outcome["status"]
        report["sections"][section.name] = outcome
        if section.name == "environment" and outcome["status"] == "ok":
            report["environment"] = outcome["results"]
            matmul_flops = outcome["results"]["matmul_tflops"] * 1e12
            # the dry run has no published peak: MFU is against the CPU's measured matmul rate
            peak_flops = matmul_flops if args.dry_run else peak_flops
        _log(f"{section.name}: {outcome['status']} in {outcome['seconds']:.0f} s" + (f" ({outcome.get('error') or outcome.get('reason')})"
                                                                                 if outcome["status"] != "ok" else ""))  # fmt: skip
        _write_outputs(report, out, work)
    report["elapsed_seconds"] = round(time.time() - start, 1)
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    _write_outputs(report, out, work)
    print(render_markdown(report))
    if not args.keep_work_dir and not args.work_dir:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    failed = [name for name, status in statuses.items() if status in ("failed", "timeout", "check_failed")]
    return 1 if failed else 0


def _chosen_sections(text: str | None) -> set[str]:
    names = [section.name for section in SECTIONS]
    if not text:
        return set(names)
    chosen = {name.strip() for name in text.split(",") if name.strip()}
    unknown = sorted(chosen - set(names))
    if unknown:
        raise SystemExit(f"gpu_check: unknown sections {unknown}; choose from {', '.join(names)}")
    return chosen | {"environment"}  # every run measures the machine first: MFU needs it


def _log(message: str) -> None:
    print(f"[gpu_check {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _write_outputs(report: dict, out: Path, work: Path) -> None:
    _write_json(out / "gpu_check.json", report)
    (out / "gpu_check.md").write_text(render_markdown(report), encoding="utf-8")
    parts = []
    for name in report["sections"]:
        for log in sorted((work / "sections" / name).glob("*.log")):
            parts.append(f"===== {name}: {log.name}\n{_tail(log, 400_000)}")
    (out / "gpu_check.log").write_text("\n".join(parts), encoding="utf-8")
    demo_table = work / "sections" / "demo" / "demo_report.md"
    if demo_table.is_file():
        (out / "demo_report.md").write_text(demo_table.read_text(), encoding="utf-8")


# --------------------------------------------------------------------------- the tables


def _number(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _table(header: list[str], rows: list[list], align: str | None = None) -> list[str]:
    """A Markdown table; `align` has an "l" or "r" per column (default: the first left, the rest right)."""
    align = align or "l" + "r" * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if side == "r" else "---" for side in align) + "|"]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def render_markdown(report: dict) -> str:
    """`gpu_check.md`: a summary line per section, then each finished section's table."""
    sections, environment = report["sections"], report.get("environment", {})
    machine = environment.get("device", "unknown device")
    if "memory_gib" in environment:
        machine += f" ({environment['memory_gib']} GiB, driver {environment.get('driver')})"
    versions = ", ".join(f"{name} {version}" for name, version in environment.get("versions", {}).items() if version)
    summary = []
    for section in SECTIONS:
        entry = sections.get(section.name)
        if entry is None:
            continue
        finished = entry["status"] in ("ok", "check_failed")
        headline = _headline(section.name, entry["results"]) if finished else entry.get("reason") or entry.get("error") or ""
        summary.append([section.name, entry["status"], _number(entry.get("seconds"), 0), _number(entry.get("cpu_seconds"), 0),
                        headline.replace("|", "/").replace("\n", " ")[:300]])  # fmt: skip
    lines = [f"# MedMO GPU check ({report['mode']})", "", f"{report['started']}; {machine}; {versions}", "",
             *_table(["section", "status", "seconds", "CPU seconds", "headline"], summary, align="llrrl")]  # fmt: skip
    for section in SECTIONS:
        entry = sections.get(section.name)
        if entry and entry["status"] in ("ok", "check_failed"):
            lines += ["", f"## {section.title}", "", *_details(section.name, entry["results"], report)]
    return "\n".join(lines) + "\n"


def _headline(name: str, r: dict) -> str:
    failed = [check for check, passed in r.get("checks", {}).items() if not passed]
    prefix = f"checks failed: {', '.join(failed)}; " if failed else ""
    if name == "environment":
        return f"{r['device']}: {r['matmul_tflops']:.3g} TFLOP/s ({r['matmul']})"
    if name == "numerics":
        pair = r["pairs"]["bf16 SDPA vs fp32"]
        return prefix + f"bf16 SDPA vs fp32: rel. L2 {pair['rel_l2']:.2e}, top-1 agreement {pair['top1_agreement']:.3f}"
    if name in ("sft_4b", "lora_8b"):
        return prefix + (f"{r['tokens_per_second']:,.0f} tokens/s, MFU {r['mfu']:.1%} (compute-only {r['mfu_compute']:.1%}), "
                         f"peak {_number(r['peak_memory_gib'])} GiB")  # fmt: skip
    if name == "generate":
        return prefix + "; ".join(f"{row['model']} b{row['batch']}: {row['tokens_per_second']:,.0f} tok/s" for row in r["rows"])
    if name == "grpo_4b":
        return prefix + f"{median(r['step_seconds']):.1f} s/step, of which generate {median(r['generate_seconds']):.1f} s"
    if name == "fsdp2":
        return prefix + f"{sum(r['wrapped'].values())} modules wrapped; reload max /diff/ {r['reload']['max_abs']:.2e}"
    if name == "demo":
        return prefix + f"{r['total_seconds'] / 60:.1f} min"
    summary = r["summary"]  # demo_grpo_10x
    return prefix + f"mean IoU GRPO {summary['grpo']['mean_iou']['mean']:.3f} vs SFT {summary['sft_control']['mean_iou']['mean']:.3f}"


def _details(name: str, r: dict, report: dict) -> list[str]:
    if name == "environment":
        return [f"{r['device']}, {r['cpu_count']} CPUs, {r['platform']}; matmul {r['matmul_tflops']:.3g} TFLOP/s ({r['matmul']})"]
    if name == "numerics":
        intro = (f"{r['model']}, one {r['image']} image ({r['image_tokens']} image tokens) + {r['text_positions']} text positions; "
                 f"fp32 logits: std {r['fp32_logit_std']:.3f}, median top-1 margin {r['fp32_top1_margin_median']:.3f} (random weights)")  # fmt: skip
        rows = [[pair, f"{v['max_abs']:.3e}", f"{v['rel_l2']:.3e}", f"{v['top1_agreement']:.4f}"] for pair, v in r["pairs"].items()]
        return [intro, "", *_table(["pair", "max abs diff", "rel. L2 diff", "top-1 agreement"], rows)]
    if name in ("sft_4b", "lora_8b"):
        peak = report.get("peak_tflops")
        against = f"{peak:g} TFLOP/s" if peak else f"the CPU's measured matmul rate, {report['environment']['matmul_tflops'] * 1e3:.1f} GFLOP/s"
        intro = (f"{r['recipe']}, batch {r['batch']} of {r['image']} phantoms, {r['steps']} steps (median of the last "
                 f"{r['measured_steps']}); MFU against {against}; formula in bench/gpu_check.py")  # fmt: skip
        header = ["parameters", "trainable", "LM tokens / step", "step s (wall / compute)", "tokens / s", "model TFLOP / step",
                  "MFU (wall / compute)", "HFU", "peak GiB"]  # fmt: skip
        row = [f"{r['parameters']:,}", f"{r['trainable']:,}", f"{r['lm_tokens_per_step']:,.0f}",
               f"{r['step_seconds_wall']:.3f} / {r['step_seconds_compute']:.3f}", f"{r['tokens_per_second']:,.0f}",
               f"{r['model_tflop_per_step']:.2f}", f"{r['mfu']:.1%} / {r['mfu_compute']:.1%}", f"{r['hfu']:.1%}", _number(r["peak_memory_gib"])]  # fmt: skip
        return [intro, "", *_table(header, [row])]
    if name == "generate":
        intro = f"One {r['image']} image + prompt per sequence, exactly {r['new_tokens']} new tokens, greedy, median of {r['repeats']}"
        header = ["model", "batch", "prompt tokens", "first token s", "decode tok/s", "tokens/s overall", "decode step ms", "bandwidth floor ms"]
        rows = [[x["model"], x["batch"], x["prompt_tokens"], f"{x['time_to_first_token_s']:.3f}", f"{x['decode_tokens_per_second']:,.0f}",
                 f"{x['tokens_per_second']:,.0f}", f"{x['decode_step_ms']:.1f}", _number(x["bandwidth_floor_step_ms"], 2)] for x in r["rows"]]  # fmt: skip
        return [intro, "", *_table(header, rows)]
    if name == "grpo_4b":
        intro = f"{r['model']}, 1 prompt ({r['image']}) x {r['generations']} generations, up to {r['max_completion_tokens']} completion tokens"
        generate, tokens = dict(enumerate(r["generate_seconds"])), dict(enumerate(r["completion_tokens_per_step"]))
        rows = [[step + 1, f"{seconds:.2f}", _number(generate.get(step), 2), _number(tokens.get(step), 0)] for step, seconds in enumerate(r["step_seconds"])]
        return [intro + f"; peak {_number(r['peak_memory_gib'])} GiB", "", *_table(["step", "seconds", "in generate", "completion tokens"], rows)]
    if name == "fsdp2":
        reload = r["reload"]
        return [f"Wrapped by {r['wrapped_by']}: {r['wrapped']} (expected {r['expected_wrapped']} + the root); {r['optimizer_steps']} "
                f"optimizer step(s), losses {[round(x, 4) for x in r['losses']]}; parameters stored in {r['stored_dtype']}, computed in "
                f"{r['compute_dtype']}; sharded save {r['save_seconds']:.1f} s, {r['checkpoint_gib']:.2f} GiB; reload in a fresh process: "
                f"max /diff/ {reload['max_abs']:.2e}, rel. L2 {reload['rel_l2']:.2e}, top-1 agreement {reload['top1_agreement']:.3f}, "
                f"bitwise equal: {reload['equal']}", *[f"- {note}" for note in r.get("notes", [])]]  # fmt: skip
    if name == "demo":  # the demo's own report.md, without its title
        return [line for line in r["report_md"].strip().splitlines() if not line.startswith("# ")]
    keys = (("mean_iou", "mean IoU"), ("acc_at_50", "Acc@0.5"), ("findings_f1", "findings F1"), ("vqa_acc", "VQA acc."))  # demo_grpo_10x
    rows = []
    for steps, summary in ((r["demo_grpo_steps"], r["demo_summary"]), (r["grpo_steps"], r["summary"])):
        for arm, title in (("grpo", "GRPO"), ("sft_control", "SFT continued")):
            values = summary[arm]
            rows.append([title, steps, *(f"{values[k]['mean']:.3f} ± {values[k]['std']:.3f}" for k, _ in keys), f"{values['seconds']['mean']:.0f}"])
    intro = f"Seeds {r['seeds']}, mean ± std over seeds; each control continues stage-3 SFT for the same wall time as its GRPO run"
    return [intro, "", *_table(["arm", "GRPO steps", *(title for _, title in keys), "seconds"], rows)]


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="tiny models on the CPU: checks the script, measures nothing")
    parser.add_argument("--out", default="runs/gpu_check", help="folder for gpu_check.json / .md / .log (default: runs/gpu_check)")
    parser.add_argument("--budget-seconds", type=float, help="stop starting sections after this long (default: 480 on a GPU, 900 dry)")
    parser.add_argument("--sections", help=f"comma-separated subset of: {', '.join(s.name for s in SECTIONS)} (environment always runs)")
    parser.add_argument("--peak-tflops", type=float, default=H200_BF16_TFLOPS, help="MFU denominator (default: H200 bf16, 790)")
    parser.add_argument("--isolation", choices=("subprocess", "fork"),
                        help="how sections are isolated (default: a fresh interpreter each on a GPU, a forked process each in the dry run)")
    parser.add_argument("--work-dir", help="scratch folder for model folders and outputs (default: a new temporary folder, deleted after)")
    parser.add_argument("--keep-work-dir", action="store_true", help="keep the temporary scratch folder")
    parser.add_argument("--inject-failure", action="append", default=[], metavar="SECTION:raise|crash",
                        help="make SECTION raise or kill its own process (tests the isolation); repeatable")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--context", help=argparse.SUPPRESS)
    parser.add_argument("--fsdp-inner", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(args.worker, args.context)
        return 0
    if args.fsdp_inner:
        _medmo_on_path()
        fsdp_inner(args.fsdp_inner)
        return 0
    for item in args.inject_failure:
        section, _, kind = item.partition(":")
        if section not in SECTION_FUNCTIONS or kind not in ("raise", "crash"):
            parser.error(f"--inject-failure {item!r}: use SECTION:raise or SECTION:crash, SECTION one of {', '.join(SECTION_FUNCTIONS)}")
    # the dry run is meant to finish (a shared 2-core machine can take minutes); a GPU run must fit its call
    args.budget_seconds = args.budget_seconds or (900.0 if args.dry_run else 480.0)
    args.isolation = args.isolation or ("fork" if args.dry_run else "subprocess")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded; a stray Hub call fails fast
    if args.dry_run:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the dry run is the CPU check, even on a GPU machine
    _medmo_on_path()
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
