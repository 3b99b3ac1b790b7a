"""Image-encoding time with and without an auxiliary encoder, beside MedMO-4B's vision tower.

    python bench/aux_overhead.py [--sizes 224 448] [--runs 5] [--threads 1]

Builds MedMO-4B's vision tower (24 blocks, width 1024, DeepStack) and merger with random weights,
with a RAD-DINO-shaped auxiliary encoder attached (DINOv2 ViT-B/14: 12 layers, width 768, at 518 px,
random weights) and its projector; the language model is cut to one small layer, since image
encoding never reaches it. For each image side, times `MedMOModel.get_image_features` (what
`forward` and `generate` call) with the auxiliary encoder and with it switched off on the same
model, in turn; each cell is the median of `--runs` samples. The auxiliary encoder always sees 518 x
518 pixels, so its cost is fixed while the vision tower's grows with the image: the ratio falls as
images grow (MedMO's stage 1 uses 768 px, stage 2 up to 1280 px).
"""

import argparse
import statistics
import time

import torch
from transformers import Dinov2Config

from medmo import MedMOConfig, MedMOModel
from medmo.tiny import build_image_processor


RAD_DINO_SHAPE = Dinov2Config(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, patch_size=14, image_size=518)
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]  # normalisation does not change the timing


def build_model() -> MedMOModel:
    aux = {"config": RAD_DINO_SHAPE, "image_size": 518, "image_mean": IMAGENET_MEAN, "image_std": IMAGENET_STD}
    small_language_model = {"num_hidden_layers": 1, "vocab_size": 1024, "intermediate_size": 256, "bos_token_id": 0, "eos_token_id": 1}
    config = MedMOConfig.from_preset("medmo-4b", text_config=small_language_model, aux_vision=[aux])
    torch.manual_seed(0)
    return MedMOModel(config).eval()


def sample_seconds(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 448], help="image sides in pixels (multiples of 32)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (on a shared 2-core machine, 2 thrash when others run)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = build_model()
    aux = model.aux_vision
    tower = sum(p.numel() for p in model.visual.parameters())
    extra = sum(p.numel() for p in aux.parameters())
    print(f"MedMO-4B vision tower + merger: {tower / 1e6:.0f}M parameters; auxiliary DINOv2 ViT-B/14 + projector: {extra / 1e6:.0f}M "
          f"(float32, {args.threads} thread(s), median of {args.runs})\n")  # fmt: skip
    print("| image | image tokens | vision tower (ms / image) | + auxiliary encoder (ms / image) | auxiliary share (ms) | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        processor = build_image_processor(min_pixels=size * size, max_pixels=size * size)
        image = torch.randint(0, 256, (size, size, 3), dtype=torch.uint8).numpy()
        batch = processor(images=[image], return_tensors="pt")
        pixels, grid = batch["pixel_values"], batch["image_grid_thw"]

        def encode(with_aux: bool):
            model.aux_vision = aux if with_aux else None  # the plain Qwen3-VL path when switched off
            with torch.no_grad():
                model.get_image_features(pixels, grid)

        encode(True), encode(False)  # warm-up
        plain, fused = [], []
        for _ in range(args.runs):
            plain.append(sample_seconds(lambda: encode(False)))
            fused.append(sample_seconds(lambda: encode(True)))
        model.aux_vision = aux
        without, with_aux = statistics.median(plain) * 1000, statistics.median(fused) * 1000
        tokens = int(grid.prod()) // 4
        print(f"| {size} x {size} | {tokens} | {without:.0f} | {with_aux:.0f} | {with_aux - without:.0f} | {with_aux / without:.2f} |", flush=True)


if __name__ == "__main__":
    main()
