# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""The `medmo` command.

    medmo convert SRC OUT           Qwen3-VL-format folder -> MedMO repository folder
    medmo export-qwen3vl SRC OUT    MedMO folder -> plain Qwen3-VL folder (vLLM, SGLang)
    medmo attach-aux SRC ENC OUT    MedMO folder + a vision encoder folder (e.g. RAD-DINO) -> MedMO with an auxiliary encoder
    medmo build-tiny OUT            a random tiny MedMO repository, for tests and demos
    medmo data phantom OUT          synthetic phantom radiographs for the tiny recipes
    medmo data convert NAME RAW OUT a data set's raw release -> training JSONL (+ summary.json)
    medmo data check-leakage ...    images / questions shared by training and test files
    medmo eval --model M --tasks T  evaluate a checkpoint on benchmarks (results.json / .md, plots)
    medmo eval score --predictions  recompute every metric from saved predictions
    medmo predict --model M --inputs DIR --out OUT   run a model on unlabeled studies (overlays, DICOM SR)
    medmo serve MODEL               an OpenAI-compatible chat endpoint for a MedMO folder
    medmo demo                      the README's demo

Each sub-command's `--help` gives its options.
"""

import argparse
import json
import logging
import sys
from pathlib import Path

import yaml

from .dependencies import MissingExtraError, require_extra


logger = logging.getLogger("medmo")


def _convert(args: argparse.Namespace) -> None:
    from .checkpoint import convert_qwen3vl_to_medmo

    output = convert_qwen3vl_to_medmo(args.source, args.output, link=not args.copy)
    print(f"MedMO repository written to {output}")


def _export(args: argparse.Namespace) -> None:
    from .checkpoint import export_medmo_to_qwen3vl

    output = export_medmo_to_qwen3vl(args.source, args.output, link=not args.copy)
    print(f"Qwen3-VL folder written to {output}")


def _attach_aux(args: argparse.Namespace) -> None:
    from .aux_encoder import attach_aux_encoder

    output = attach_aux_encoder(args.source, args.encoder, args.output, image_size=args.image_size, feature_layer=args.feature_layer,
                                image_mean=args.image_mean, image_std=args.image_std, link=not args.copy, seed=args.seed)  # fmt: skip
    print(f"MedMO repository with an auxiliary vision encoder written to {output}")


def _build_tiny(args: argparse.Namespace) -> None:
    from .tiny import save_tiny

    output = save_tiny(args.output, seed=args.seed, aux_encoder=args.aux_encoder)
    print(f"Tiny MedMO repository written to {output}")


def _phantom(args: argparse.Namespace) -> None:
    require_extra("data", "medmo data phantom")
    from .loading import load_processor
    from .training.data.phantom import write_phantom_dataset

    if args.model:
        processor = load_processor(args.model, max_pixels=args.size * args.size)
    else:
        from .tiny import build_processor

        processor = build_processor(min_pixels=32 * 32, max_pixels=args.size * args.size)
    paths = write_phantom_dataset(args.output, processor, train=args.train, heldout=args.heldout, seed=args.seed, size=args.size)
    for name, path in paths.items():
        print(f"{name}: {path}")


def _convert_data(args: argparse.Namespace) -> int:
    require_extra("data", "medmo data convert")
    from .loading import load_processor
    from .sources.cards import read_registry
    from .training.data.converters import CONVERTERS, ConversionError, convert

    registry = read_registry()
    entry = registry.get(args.name, {})
    converter = entry.get("converter", args.name)
    if converter not in CONVERTERS:
        raise SystemExit(f"Unknown data set or converter {args.name!r}; registry names: {', '.join(sorted(registry))}; "
                         f"converters: {', '.join(sorted(CONVERTERS))}.")  # fmt: skip
    given = dict(option.split("=", 1) for option in args.option)
    options = {**(entry.get("options") or {}), **{key: yaml.safe_load(value) for key, value in given.items()}}
    if args.model:
        processor = load_processor(args.model, args.min_pixels, args.max_pixels)
    else:
        from .tiny import build_processor

        processor = build_processor(min_pixels=args.min_pixels, max_pixels=args.max_pixels)
    try:
        summary = convert(args.name, CONVERTERS[converter], args.raw, args.output, processor, strict=args.strict, options=options)
    except ConversionError as error:
        print(f"medmo data convert: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary.as_dict(), indent=2))
    return 0


def _check_leakage(args: argparse.Namespace) -> int:
    from .clinical.prompts import PROMPTS
    from .sources.leakage import check_leakage

    report = check_leakage(args.train, args.test, ignore_questions=[p for variants in PROMPTS.values() for p in variants])
    print(json.dumps(report, indent=2))
    return 1 if args.fail_on_overlap and (report["shared_images"] or report["shared_questions"]) else 0


def _evaluate(args: argparse.Namespace) -> int:
    require_extra("eval", "medmo eval")
    from .evaluation import TASKS, evaluate, rescore

    if args.list_tasks:
        for name, task in TASKS.items():
            summary = (task.adapter.__doc__ or "").strip().splitlines()[0]
            print(f"{name:<16} {task.family:<9} <data-dir>/{task.folder:<16} {summary}")
        return 0
    judge = None
    if args.judge_endpoint:
        from .evaluation.judge import Judge

        judge = Judge(args.judge_endpoint, args.judge_model, api_key_env=args.judge_api_key_env)
    if args.action == "score":
        if not args.predictions:
            raise SystemExit("medmo eval score: pass --predictions FILE.jsonl (a predictions file an earlier run wrote).")
        rescore(args.predictions, args.out, resamples=args.resamples, judge=judge, training_data=args.training_data,
                report_extras=args.report_extras)  # fmt: skip
    else:
        missing = [flag for flag, value in (("--model", args.model), ("--tasks", args.tasks), ("--data-dir", args.data_dir), ("--out", args.out)) if not value]
        if missing:
            raise SystemExit(f"medmo eval: missing {', '.join(missing)} (or use `medmo eval --list-tasks` / `medmo eval score --predictions FILE`).")
        tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
        unknown = [t for t in tasks if t not in TASKS]
        if unknown:
            raise SystemExit(f"medmo eval: unknown task(s) {', '.join(unknown)}; `medmo eval --list-tasks` lists them.")
        evaluate(args.model, tasks, args.data_dir, args.out, limit=args.limit, batch_size=args.batch_size, resamples=args.resamples,
                 judge=judge, training_data=args.training_data, backend=args.backend, max_new_tokens=args.max_new_tokens,
                 report_extras=args.report_extras)  # fmt: skip
    out = Path(args.out or Path(args.predictions).parent)
    print((out / "results.md").read_text(encoding="utf-8"))
    print(f"Results: {out / 'results.json'}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from .inference.predict import PredictError, ReadOptions, format_summary, predict

    window = args.window
    if window and "," in window:
        window = tuple(float(value) for value in window.split(","))
    options = ReadOptions(window=window, frame=args.frame, axis=args.axis, slices=args.slices, num_slices=args.num_slices)
    try:
        summary = predict(args.model, args.inputs, args.out, task=args.task, prompt=args.prompt, options=options, batch_size=args.batch_size,
                          max_new_tokens=args.max_new_tokens, overlays=not args.no_overlays, dicom_sr=args.dicom_sr, backend=args.backend,
                          device=args.device, quantization=args.quantization, revision=args.revision)  # fmt: skip
    except (PredictError, ImportError) as error:  # bad input, or an optional package to install (named)
        print(f"medmo predict: error: {error}", file=sys.stderr)
        return 2
    print(format_summary(summary, args.out))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .inference.serve import serve

    try:
        serve(args.model, host=args.host, port=args.port, served_model_name=args.served_model_name, device=args.device,
              quantization=args.quantization, allow_remote_images=args.allow_remote_images, max_image_bytes=args.max_image_mb * 2**20)  # fmt: skip
    except ImportError as error:  # the serving stack or a quantization package to install (named)
        print(f"medmo serve: error: {error}", file=sys.stderr)
        return 2
    return 0


def _demo(args: argparse.Namespace) -> None:
    for extra in ("train", "eval", "medical"):
        require_extra(extra, "medmo demo")
    from .demo import run

    run(Path(args.output), fast=args.fast, device=args.device)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medmo", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    convert = commands.add_parser("convert", help="turn a Qwen3-VL-format checkpoint folder into a MedMO repository")
    convert.add_argument("source", help="folder with config.json and safetensors weights (e.g. a downloaded MedMO-8B)")
    convert.add_argument("output", help="new folder to write (must not exist or be empty)")
    convert.add_argument("--copy", action="store_true", help="copy weight shards instead of hard-linking them")
    convert.set_defaults(handler=_convert)

    export = commands.add_parser("export-qwen3vl", help="write a MedMO folder as a plain Qwen3-VL checkpoint")
    export.add_argument("source", help="a MedMO repository folder")
    export.add_argument("output", help="new folder to write (must not exist or be empty)")
    export.add_argument("--copy", action="store_true", help="copy weight shards instead of hard-linking them")
    export.set_defaults(handler=_export)

    attach = commands.add_parser("attach-aux", help="add a pretrained vision encoder (RAD-DINO, SigLIP, ...) as an auxiliary encoder")
    attach.add_argument("source", help="a MedMO repository folder")
    attach.add_argument("encoder", help="a local vision-encoder folder (config.json, safetensors, preprocessor_config.json)")
    attach.add_argument("output", help="new folder to write (must not exist or be empty)")
    attach.add_argument("--image-size", type=int, help="the encoder's square input side (default: from its preprocessor_config.json)")
    attach.add_argument("--feature-layer", type=int, help="take this hidden state (0 = embeddings) instead of the encoder's output")
    attach.add_argument("--image-mean", type=float, nargs=3, help="the encoder's normalisation (default: from its preprocessor_config.json)")
    attach.add_argument("--image-std", type=float, nargs=3)
    attach.add_argument("--seed", type=int, default=0, help="seed of the projector's first layer (its output layer starts at zero)")
    attach.add_argument("--copy", action="store_true", help="copy weight shards instead of hard-linking them")
    attach.set_defaults(handler=_attach_aux)

    tiny = commands.add_parser("build-tiny", help="write a random tiny MedMO repository (offline)")
    tiny.add_argument("output", help="folder to write")
    tiny.add_argument("--seed", type=int, default=0)
    tiny.add_argument("--aux-encoder", choices=["dinov2", "siglip"], help="attach a tiny random auxiliary vision encoder of this kind")
    tiny.set_defaults(handler=_build_tiny)

    data = commands.add_parser("data", help="training and evaluation data")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    phantom = data_commands.add_parser("phantom", help="write synthetic phantom radiographs with boxes, reports, questions")
    phantom.add_argument("output", help="folder to write (images/ and one JSONL per stage)")
    phantom.add_argument("--train", type=int, default=600)
    phantom.add_argument("--heldout", type=int, default=200)
    phantom.add_argument("--seed", type=int, default=0)
    phantom.add_argument("--size", type=int, default=128, help="image side in pixels")
    phantom.add_argument("--model", help="a MedMO folder whose processor sets the box frame (default: tiny processor)")
    phantom.set_defaults(handler=_phantom)

    convert_data = data_commands.add_parser("convert", help="convert a data set's raw release into the training schema")
    convert_data.add_argument("name", help="registry name (data_cards/registry.yaml) or converter name (e.g. generic)")
    convert_data.add_argument("raw", help="the raw release's folder (or table, for generic)")
    convert_data.add_argument("output", help="output folder: <split>.jsonl, <split>.grpo.jsonl, summary.json")
    convert_data.add_argument("--model", help="a MedMO folder whose processor sets the box frame (default: Qwen3-VL's image settings)")
    convert_data.add_argument("--min-pixels", type=int, default=256 * 256)
    convert_data.add_argument("--max-pixels", type=int, default=1280 * 1280, help="the training stage's limit (stage 2: 1280*1280)")
    convert_data.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="converter option (repeatable)")
    convert_data.add_argument("--strict", action="store_true", help="stop at the first record that cannot be converted")
    convert_data.set_defaults(handler=_convert_data)

    leakage = data_commands.add_parser("check-leakage", help="report images and questions shared by training and test files")
    leakage.add_argument("--train", nargs="+", required=True, help="training JSONL files")
    leakage.add_argument("--test", nargs="+", required=True, help="evaluation JSONL files")
    leakage.add_argument("--fail-on-overlap", action="store_true", help="exit with status 1 when anything is shared")
    leakage.set_defaults(handler=_check_leakage)

    evaluation = commands.add_parser("eval", help="evaluate a checkpoint on benchmarks, or re-score saved predictions")
    evaluation.add_argument("action", nargs="?", choices=["score"], help="`score`: recompute metrics from --predictions without generating")
    evaluation.add_argument("--model", help="MedMO or Qwen3-VL folder or Hub id, or a LoRA adapter folder")
    evaluation.add_argument("--tasks", help="comma-separated task names (see --list-tasks)")
    evaluation.add_argument("--data-dir", help="folder holding each benchmark's files under its task folder")
    evaluation.add_argument("--out", help="output folder: predictions.jsonl, results.json, results.md, plots")
    evaluation.add_argument("--list-tasks", action="store_true", help="list the task adapters and the folders they read")
    evaluation.add_argument("--predictions", help="with `score`: a predictions.jsonl written by an earlier run")
    evaluation.add_argument("--limit", type=int, help="at most this many samples per task (smoke runs)")
    evaluation.add_argument("--batch-size", type=int, default=8)
    evaluation.add_argument("--max-new-tokens", type=int, help="override the per-kind generation lengths")
    evaluation.add_argument("--backend", choices=["transformers", "vllm"], default="transformers", help="vllm: GPU only")
    evaluation.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples for the 95%% intervals (0: none)")
    evaluation.add_argument("--training-data", nargs="+", help="training JSONL files: report evaluation images that also occur there")
    evaluation.add_argument("--report-extras", type=lambda text: [n.strip() for n in text.split(",") if n.strip()], default=[],
                            help="optional report metrics needing their packages and cached weights: radgraph,chexbert,green,ratescore")
    evaluation.add_argument("--judge-endpoint", help="OpenAI-compatible base URL (e.g. http://localhost:8000/v1) for the optional LLM judge")
    evaluation.add_argument("--judge-model", default="gpt-4o-mini", help="judge model name sent to the endpoint")
    evaluation.add_argument("--judge-api-key-env", default="OPENAI_API_KEY", help="environment variable holding the judge's API key")
    evaluation.set_defaults(handler=_evaluate)

    prediction = commands.add_parser("predict", help="run a model on unlabeled images, DICOM files and series, NIfTI volumes")
    prediction.add_argument("--model", required=True, help="MedMO or Qwen3-VL folder or Hub id, or a LoRA adapter folder")
    prediction.add_argument("--inputs", nargs="+", required=True, help="folders (searched recursively), .csv/.jsonl tables, or files")
    prediction.add_argument("--out", required=True, help="output folder: predictions.jsonl, overlays/, sr/, summary.json")
    prediction.add_argument("--task", choices=["grounding", "report", "vqa"], default="grounding")
    prediction.add_argument("--prompt", help="the instruction or question (default: the task's evaluation prompt; vqa needs one)")
    prediction.add_argument("--window", help="CT window preset (lung, mediastinum, abdomen, liver, bone, brain) or CENTER,WIDTH (--window=-600,1500)")
    prediction.add_argument("--frame", type=int, help="frame of multi-frame DICOM images (default: the middle one)")
    prediction.add_argument("--axis", choices=["axial", "coronal", "sagittal"], default="axial", help="volume slicing axis")
    prediction.add_argument("--slices", type=int, nargs="+", help="volume slice indices (default: --num-slices evenly spaced)")
    prediction.add_argument("--num-slices", type=int, help="evenly spaced slices per volume (default: the middle slice)")
    prediction.add_argument("--batch-size", type=int, default=8)
    prediction.add_argument("--max-new-tokens", type=int, help="override the task's generation length")
    prediction.add_argument("--no-overlays", action="store_true", help="do not draw grounding predictions")
    prediction.add_argument("--dicom-sr", action="store_true", help="write a DICOM SR per study with the boxes (grounding, DICOM inputs)")
    prediction.add_argument("--revision", help="model revision recorded in DICOM SRs (default: Hub commit or a hash of the folder)")
    prediction.add_argument("--backend", choices=["transformers", "vllm"], default="transformers", help="vllm: GPU only")
    prediction.add_argument("--device", help="cuda, cpu, ... (default: cuda when available)")
    prediction.add_argument("--quantization", choices=["int8", "bnb-8bit", "bnb-4bit"], help="int8: CPU (optimum-quanto); bnb-*: CUDA")
    prediction.set_defaults(handler=_predict)

    serving = commands.add_parser("serve", help="an OpenAI-compatible /v1/chat/completions endpoint (transformers' server, MedMO loaded)")
    serving.add_argument("model", help="MedMO folder or Hub id")
    serving.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    serving.add_argument("--port", type=int, default=8000)
    serving.add_argument("--served-model-name", help="the `model` name clients send (default: the folder's name)")
    serving.add_argument("--device", help="cuda, cpu, ... (default: cuda when available)")
    serving.add_argument("--quantization", choices=["int8", "bnb-8bit", "bnb-4bit"], help="int8: CPU (optimum-quanto); bnb-*: CUDA")
    serving.add_argument("--allow-remote-images", action="store_true", help="also fetch http(s) image URLs (default: data: URLs only)")
    serving.add_argument("--max-image-mb", type=int, default=64, help="largest image a request may carry")
    serving.set_defaults(handler=_serve)

    demo = commands.add_parser("demo", help="the four-stage recipe in miniature on phantoms (CPU), evaluated after each stage")
    demo.add_argument("--output", default="runs/demo", help="folder for the demo's outputs")
    demo.add_argument("--fast", action="store_true", help="a few images and steps: checks the pipeline, not quality (under 2 minutes)")
    demo.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where the held-out evaluation runs (cuda: bf16 on a GPU)")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    # MedMO's own progress at INFO; libraries (rouge-score's absl, matplotlib) only when they warn.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("medmo").setLevel(logging.INFO)
    args = build_parser().parse_args(argv)
    # Only light modules here: `medmo convert` must work on a core install (no `datasets`).
    from .checkpoint import CheckpointError
    from .files import CorruptFileError

    try:
        status = args.handler(args)
    except MissingExtraError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (CheckpointError, CorruptFileError) as error:
        print(f"medmo {args.command}: error: {error}", file=sys.stderr)
        return 2
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
