# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""The `medmo` command.

    medmo convert SRC OUT           Qwen3-VL-format folder -> MedMO repository folder
    medmo export-qwen3vl SRC OUT    MedMO folder -> plain Qwen3-VL folder (vLLM, SGLang)
    medmo build-tiny OUT            a random tiny MedMO repository, for tests and demos
    medmo data phantom OUT          synthetic phantom radiographs for the tiny recipes
    medmo demo                      the README's demo

Each sub-command's `--help` gives its options.
"""

import argparse
import logging
import sys
from pathlib import Path


logger = logging.getLogger("medmo")


def _convert(args: argparse.Namespace) -> None:
    from .checkpoint import convert_qwen3vl_to_medmo

    output = convert_qwen3vl_to_medmo(args.source, args.output, link=not args.copy)
    print(f"MedMO repository written to {output}")


def _export(args: argparse.Namespace) -> None:
    from .checkpoint import export_medmo_to_qwen3vl

    output = export_medmo_to_qwen3vl(args.source, args.output, link=not args.copy)
    print(f"Qwen3-VL folder written to {output}")


def _build_tiny(args: argparse.Namespace) -> None:
    from .tiny import save_tiny

    output = save_tiny(args.output, seed=args.seed)
    print(f"Tiny MedMO repository written to {output}")


def _phantom(args: argparse.Namespace) -> None:
    from .training.data.phantom import write_phantom_dataset
    from .training.modules import load_processor

    if args.model:
        processor = load_processor(args.model, max_pixels=args.size * args.size)
    else:
        from .tiny import build_processor

        processor = build_processor(min_pixels=32 * 32, max_pixels=args.size * args.size)
    paths = write_phantom_dataset(args.output, processor, train=args.train, heldout=args.heldout, seed=args.seed, size=args.size)
    for name, path in paths.items():
        print(f"{name}: {path}")


def _demo(args: argparse.Namespace) -> None:
    from .demo import run

    run(Path(args.output))


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

    tiny = commands.add_parser("build-tiny", help="write a random tiny MedMO repository (offline)")
    tiny.add_argument("output", help="folder to write")
    tiny.add_argument("--seed", type=int, default=0)
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

    demo = commands.add_parser("demo", help="build a tiny MedMO, save it, reload it through the Auto classes")
    demo.add_argument("--output", default="runs/demo", help="folder for the demo's outputs")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    from .checkpoint import CheckpointError

    try:
        args.handler(args)
    except CheckpointError as error:
        print(f"medmo {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
