"""Imaging throughput: the MedMO processor vs Qwen3-VL's image processor, DICOM decoding, box parsing.

    python bench/imaging.py [--runs 7]

1. Images per second at 1280x1280 through `MedMOProcessor(images=...)` (medical-input handling +
   Qwen3-VL image processing) vs the stock Qwen3-VL image processor alone on the same images
   (target ratio >= 0.95); and with a prompt, which adds tokenizing its image tokens.
2. Reading a 2k x 2k computed radiograph (pydicom-data's RG1_UNCR.dcm, 1841x1955, MONOCHROME1,
   window tags) into RGB: file read, pixel decode, window + inversion.
3. Box texts parsed per second (1-5 boxes each, MedMO, GRPO-answer and Qwen3-VL JSON styles).

Each figure is the median of `--runs` samples; the processor variants are sampled in turn.
"""

import argparse
import random
import statistics
import time

import numpy as np
import pydicom
from PIL import Image
from pydicom.data import get_testdata_file

from medmo.boxes import format_boxes, parse_boxes
from medmo.medical_images import dicom_pixels, dicom_to_image, load_image
from medmo.tiny import build_image_processor, build_processor

from common import median_seconds


SIDE = 1280


def interleaved_medians(functions: dict, runs: int) -> dict:
    """Median seconds per call of each function, sampling them in turn so load drift hits all alike."""
    for function in functions.values():
        function()  # warm-up
    samples = {name: [] for name in functions}
    for _ in range(runs):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def processor_rows(runs: int):
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)) for _ in range(4)]
    stock = build_image_processor(min_pixels=256 * 256, max_pixels=SIDE * SIDE)
    processor = build_processor(min_pixels=256 * 256, max_pixels=SIDE * SIDE)
    prompt = "<|vision_start|><|image_pad|><|vision_end|>Describe the findings."
    seconds = interleaved_medians(
        {
            "stock": lambda: stock(images=images, return_tensors="pt"),
            "images": lambda: processor(images=images, return_tensors="pt"),
            "prompt": lambda: processor(images=images, text=[prompt] * len(images), return_tensors="pt"),
        },
        runs,
    )
    stock_s, images_s, medmo_s = (seconds[name] / len(images) for name in ("stock", "images", "prompt"))
    return [
        ("Qwen3-VL image processor (stock)", 1 / stock_s, 1.0),
        ("MedMOProcessor, images", 1 / images_s, stock_s / images_s),
        ("MedMOProcessor, images + prompt (1,600 image tokens each)", 1 / medmo_s, stock_s / medmo_s),
    ]


def dicom_rows(runs: int):
    path = get_testdata_file("RG1_UNCR.dcm")
    dataset = pydicom.dcmread(path)
    read = median_seconds(lambda: pydicom.dcmread(path), runs)

    def decode():
        fresh = pydicom.dcmread(path)
        return dicom_pixels(fresh)

    decode_s = median_seconds(decode, runs) - read
    window_s = median_seconds(lambda: dicom_to_image(dataset), runs)
    total = median_seconds(lambda: load_image(path), runs)
    return [
        ("read file (pydicom.dcmread)", read),
        ("decode pixels + modality LUT", decode_s),
        ("window + MONOCHROME1 inversion -> RGB (dataset in memory)", window_s),
        ("load_image(path), end to end", total),
    ]


def parse_rows(runs: int):
    rng = random.Random(0)
    texts = []
    for index in range(3000):
        boxes = [
            {"label": rng.choice(["Nodule", "Mass", "Pleural effusion", "Fracture"]),
             "box": sorted(rng.uniform(0, 1000) for _ in range(2)) + sorted(rng.uniform(0, 1000) for _ in range(2))}
            for _ in range(rng.randint(1, 5))
        ]  # fmt: skip
        boxes = [{"label": b["label"], "box": [b["box"][0], b["box"][2], b["box"][1], b["box"][3]]} for b in boxes]
        texts.append(format_boxes(boxes, style=("medmo", "answer", "qwen_json")[index % 3]))
    seconds = median_seconds(lambda: [parse_boxes(text) for text in texts], runs) / len(texts)
    return 1 / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=31)
    args = parser.parse_args()

    print(f"Processor throughput at {SIDE}x{SIDE} (median of {args.runs} runs, batches of 4)\n")
    print("| path | images / s | ratio to stock |")
    print("|---|---:|---:|")
    for label, rate, ratio in processor_rows(args.runs):
        print(f"| {label} | {rate:.2f} | {ratio:.3f} |")

    print(f"\nDICOM: RG1_UNCR.dcm (CR 1841x1955, 16-bit, MONOCHROME1), median of {args.runs} runs\n")
    print("| step | ms |")
    print("|---|---:|")
    for label, seconds in dicom_rows(args.runs):
        print(f"| {label} | {seconds * 1e3:.1f} |")

    rate = parse_rows(args.runs)
    print(f"\nBox parsing: {rate:,.0f} texts / s (1-5 boxes each, three styles), median of {args.runs} runs")


if __name__ == "__main__":
    main()
