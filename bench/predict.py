"""`medmo predict` throughput against a plain per-image loop.

    python bench/predict.py [--images 40] [--new-tokens 32] [--runs 5] [--threads 1]

Studies: phantom radiographs (PNG, 128 px) and copies of pydicom's CT_small.dcm (one in five),
grounding prompt, the tiny random MedMO on the CPU, the model loaded once for every mode. The plain
loop is the README's quickstart in a `for` loop (read, template, generate, decode, boxes to
original pixels); `medmo predict` adds discovery, overlays, the synced predictions file and the
summary, and batches generation. Every mode generates at most `--new-tokens` tokens per study.
Median of `--runs` timed rounds after a warm-up round; each round times every mode once, in
turn, so that load from other processes falls on all of them alike (each `medmo predict` run
writes a fresh folder). `--threads` sets torch's CPU threads (on a machine shared with other jobs,
more threads than free cores make OpenMP spin: 100x slower steps were seen with 2 threads here).
Target: `medmo predict` >= 3x the plain loop.
"""

import argparse
import itertools
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
from pydicom.data import get_testdata_file

from medmo.clinical.prompts import evaluation_prompt
from medmo.evaluation.runner import TransformersBackend
from medmo.inference.predict import predict
from medmo.tiny import build_processor, build_tiny
from medmo.training.data.phantom import write_phantom_dataset



def studies(folder: Path, count: int) -> list[Path]:
    processor = build_processor(min_pixels=32 * 32, max_pixels=128 * 128)
    write_phantom_dataset(folder / "phantom", processor, train=0, heldout=count - count // 5)
    (folder / "dicom").mkdir()
    for index in range(count // 5):
        shutil.copy(get_testdata_file("CT_small.dcm"), folder / "dicom" / f"ct-{index:03d}.dcm")
    return sorted((folder / "phantom" / "images").glob("*.png")) + sorted((folder / "dicom").glob("*.dcm"))


def plain_loop(model, processor, files: list[Path], new_tokens: int) -> None:
    prompt = evaluation_prompt("grounding")
    for path in files:
        image = processor.load_image(path)
        messages = [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": prompt}]}]
        inputs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt")
        with torch.no_grad():
            output = model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False)
        text = processor.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)[0]
        processor.post_process_grounding([text], [image.size])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model, processor = build_tiny(seed=0)
    backend = TransformersBackend(model, processor)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        files = studies(folder / "in", args.images)
        counter = itertools.count()

        def run_predict(batch_size: int):
            def once():
                summary = predict("tiny", [folder / "in"], folder / f"out-{next(counter)}", generate=backend, processor=processor,
                                  batch_size=batch_size, max_new_tokens=args.new_tokens, progress=False)  # fmt: skip
                assert summary["predictions_new"] == len(files), summary

            return once

        modes = {"plain per-image loop (README quickstart)": lambda: plain_loop(model, processor, files, args.new_tokens)}
        modes.update({f"medmo predict --batch-size {size}": run_predict(size) for size in (1, 8, 16)})
        seconds = {name: [] for name in modes}
        for round_ in range(args.runs + 1):
            for name, mode in modes.items():
                start = time.perf_counter()
                mode()
                if round_:  # round 0 warms up
                    seconds[name].append(time.perf_counter() - start)

    print(f"## medmo predict: {len(files)} studies ({len(files) - args.images // 5} PNG, {args.images // 5} DICOM), tiny MedMO, "
          f"<= {args.new_tokens} new tokens, CPU, {args.threads} torch thread(s), median of {args.runs}\n")  # fmt: skip
    print("| mode | studies / s | ratio to the plain loop |")
    print("|---|---:|---:|")
    rates = {name: len(files) / statistics.median(times) for name, times in seconds.items()}
    base = next(iter(rates.values()))
    for name, rate in rates.items():
        print(f"| {name} | {rate:.1f} | {rate / base:.2f} |")


if __name__ == "__main__":
    main()
