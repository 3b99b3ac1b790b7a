# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Load a MedMO repository through the transformers Auto classes and ask it about an image.

    python quickstart.py MODEL_DIR_OR_HUB_ID IMAGE [--prompt TEXT] [--max-new-tokens N]

This script imports transformers only, not the `medmo` package: it runs the remote code stored in
the model folder, exactly as a user who downloads MedMO from the Hub would.
"""

import argparse

import transformers
from PIL import Image


def generate(model_id: str, image_path: str, prompt: str, max_new_tokens: int) -> str:
    model = transformers.AutoModelForImageTextToText.from_pretrained(model_id, trust_remote_code=True).eval()
    processor = transformers.AutoProcessor.from_pretrained(model_id, trust_remote_code=True)
    image = Image.open(image_path).convert("RGB")
    messages = [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": prompt}]}]
    inputs = processor.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )
    if not transformers.__version__.startswith("5"):
        inputs.pop("mm_token_type_ids", None)
    output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    print(f"model class: {type(model).__module__}.{type(model).__name__}")
    print(f"processor class: {type(processor).__name__}")
    return processor.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a MedMO folder or Hub id")
    parser.add_argument("image", help="an image file")
    parser.add_argument("--prompt", default="Describe the findings in this image.")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()
    print(f"answer: {generate(args.model, args.image, args.prompt, args.max_new_tokens)!r}")


if __name__ == "__main__":
    main()
