"""Peak memory and time of `medmo convert` on a full-size (MedMO-4B-shaped, 8.9 GB) sharded checkpoint.

    python bench/convert.py [--size medmo-4b|medmo-8b] [--keep]

The checkpoint is written with the real tensor names and bf16 shapes of the preset, in 4 GB
shards, as sparse files (the data is zeros, so it costs no disk until copied). Each conversion runs
in its own process; its peak resident memory is read from the kernel (`ru_maxrss`). Target: under
500 MB, i.e. the weights are never loaded.
"""

import argparse
import json
import shutil
import struct
import sys
import tempfile
from pathlib import Path

import torch
from transformers import Qwen3VLForConditionalGeneration

from medmo import MedMOConfig

from common import measure


SHARD_BYTES = 4 * 1024**3


def write_sparse_shard(path: Path, tensors: dict[str, tuple[int, ...]]) -> int:
    header, offset = {}, 0
    for name, shape in tensors.items():
        size = 2 * int(torch.Size(shape).numel())  # bf16
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(encoded)) + encoded)
        file.truncate(8 + len(encoded) + offset)  # a sparse tail of zeros
    return offset


def write_checkpoint(folder: Path, preset: str) -> int:
    config = MedMOConfig.from_preset(preset)
    with torch.device("meta"):
        model = Qwen3VLForConditionalGeneration(config)
    shapes = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    if config.tie_word_embeddings:
        shapes.pop("lm_head.weight", None)
    shards, current, size = [], {}, 0
    for name, shape in shapes.items():
        nbytes = 2 * int(torch.Size(shape).numel())
        if current and size + nbytes > SHARD_BYTES:
            shards.append(current)
            current, size = {}, 0
        current[name], size = shape, size + nbytes
    shards.append(current)
    weight_map, total = {}, 0
    for number, tensors in enumerate(shards, start=1):
        shard_name = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
        total += write_sparse_shard(folder / shard_name, tensors)
        weight_map.update(dict.fromkeys(tensors, shard_name))
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    qwen_config = config.to_dict()
    qwen_config.update(model_type="qwen3_vl", architectures=["Qwen3VLForConditionalGeneration"])
    (folder / "config.json").write_text(json.dumps(qwen_config))
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="medmo-4b", choices=["medmo-4b", "medmo-8b"])
    parser.add_argument("--keep", action="store_true", help="keep the generated folders")
    args = parser.parse_args()
    medmo = str(Path(sys.executable).with_name("medmo"))
    work = Path(tempfile.mkdtemp(prefix="medmo-convert-bench-"))
    try:
        source = work / "qwen3vl"
        source.mkdir()
        total = write_checkpoint(source, args.size)
        shards = len(list(source.glob("*.safetensors")))
        baseline, _ = measure([sys.executable, "-c", "import medmo"])
        rows = [("import medmo (baseline)", baseline, None)]
        for label, extra in (("convert (hard links)", []), ("convert --copy", ["--copy"])):
            target = work / label.replace(" ", "_").replace("(", "").replace(")", "")
            peak, seconds = measure([medmo, "convert", str(source), str(target), *extra])
            rows.append((label, peak, seconds))
            shutil.rmtree(target)
        print(f"{args.size}: {total / 1e9:.1f} GB of bf16 weights in {shards} shards\n")
        print("| run | peak RSS (MB) | wall time (s) |")
        print("|---|---:|---:|")
        for label, peak, seconds in rows:
            print(f"| {label} | {peak:.0f} | {'-' if seconds is None else f'{seconds:.1f}'} |")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
