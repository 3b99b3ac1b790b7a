# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Model cards (`README.md` with Hub YAML metadata) for the MedMO folders this package writes.

One renderer serves converted checkpoints and training runs, so every card carries the same
metadata, usage, box convention, intended use and limitations. Cards never contain tokens:
`render_card` refuses text that looks like a Hub token.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml


HUB_TOKEN_PATTERN = re.compile(r"hf_[A-Za-z0-9]{20,}")
BASE_TAGS = ["medmo", "medical", "radiology", "multimodal", "grounding", "qwen3_vl", "image-text-to-text"]

INTENDED_USE = """\
## Intended use and limitations

MedMO is a research model for medical image understanding: visual question answering, report
drafting, and localisation of findings with bounding boxes. It is **not** a medical device and has
not been validated for clinical decision making. Outputs can be wrong, incomplete or confidently
mis-localised; a qualified clinician must review every output. Performance differs across
modalities, scanners, populations and institutions, and has not been measured on your data:
evaluate it there (`medmo eval`) before any use. Do not send identifiable patient data to a
model or service you do not control.
"""

BOX_CONVENTION = """\
## Box coordinates

Boxes are `[x1, y1, x2, y2]` (top-left, bottom-right). This checkpoint writes them in the frame
named by the processor's `box_format`; `processor.post_process_grounding(texts, image_sizes)` maps
them to pixels of the original image, so callers never convert by hand.
"""


@dataclass
class CardFacts:
    """What a card states about a checkpoint. Unknown facts stay `None` and are shown as unknown."""

    title: str
    summary: str
    base_model: str | None = None
    license: str | None = None
    datasets: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    citation: str | None = None


MEDMO_CITATION = """\
@inproceedings{medmo2026,
  title     = {MedMO: Grounding and Understanding Multimodal Large Language Model for Medical Images},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2026},
  note      = {arXiv:2602.06965}
}"""


def _front_matter(facts: CardFacts) -> str:
    metadata = {
        "license": facts.license or "other",
        "library_name": "transformers",
        "pipeline_tag": "image-text-to-text",
        "tags": sorted(set(BASE_TAGS + facts.tags)),
    }
    if facts.base_model:
        metadata["base_model"] = facts.base_model
    if facts.datasets:
        metadata["datasets"] = facts.datasets
    return "---\n" + yaml.safe_dump(metadata, sort_keys=True) + "---\n"


def _usage(repo_id: str) -> str:
    return f"""\
## Usage

```python
from transformers import AutoModelForImageTextToText, AutoProcessor

model = AutoModelForImageTextToText.from_pretrained("{repo_id}", trust_remote_code=True)
processor = AutoProcessor.from_pretrained("{repo_id}", trust_remote_code=True)
messages = [{{"role": "user", "content": [
    {{"type": "image", "image": "chest_xray.png"}},
    {{"type": "text", "text": "Detect any visible abnormalities and give their boxes."}}]}}]
inputs = processor.apply_chat_template(
    messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt")
output = model.generate(**inputs, max_new_tokens=256)
text = processor.batch_decode(output[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
```

On transformers 4.57, `AutoModelForVision2Seq` loads it too.
"""


def render_card(facts: CardFacts, repo_id: str = "path/to/this/folder") -> str:
    """The card as Markdown with Hub YAML front matter."""
    licence_line = (
        f"Licence: `{facts.license}`."
        if facts.license
        else "Licence: unknown. The source carried no licence; check it before redistributing."
    )
    parts = [
        _front_matter(facts),
        f"# {facts.title}\n",
        facts.summary.strip() + "\n",
        f"Base model: {facts.base_model or 'unknown'}. {licence_line}\n",
        _usage(repo_id),
        BOX_CONVENTION,
        *[section.strip() + "\n" for section in facts.sections],
        INTENDED_USE,
        "## Citation\n\n```bibtex\n" + (facts.citation or MEDMO_CITATION) + "\n```\n",
    ]
    card = "\n".join(parts)
    if HUB_TOKEN_PATTERN.search(card):
        raise ValueError("Refusing to write a model card that contains a Hub token.")
    return card


def read_card_metadata(path: str | Path) -> dict:
    """The YAML front matter of a `README.md` (empty when there is none or it is malformed)."""
    path = Path(path)
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8", errors="replace")
    match = re.match(r"^---\s*\n(.*?)\n---\s*\n", text, flags=re.DOTALL)
    if not match:
        return {}
    try:
        metadata = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}
    return metadata if isinstance(metadata, dict) else {}


def conversion_card(source: Path, config: dict) -> str:
    """Card for a folder converted from a Qwen3-VL-format checkpoint."""
    source_metadata = read_card_metadata(source / "README.md")
    base_model = source_metadata.get("base_model") or config.get("_name_or_path") or source.name
    if isinstance(base_model, list):
        base_model = base_model[0]
    text = config.get("text_config", {})
    size = f"{text.get('num_hidden_layers')} layers, hidden size {text.get('hidden_size')}"
    facts = CardFacts(
        title=f"MedMO ({source.name})",
        summary=(
            f"`{source.name}` packaged as a MedMO model repository: the same Qwen3-VL weights ({size}), "
            "loadable with the transformers Auto classes, with DICOM / NIfTI input and box post-processing "
            "in the processor. Converted with `medmo convert`; weights are unchanged."
        ),
        base_model=str(base_model),
        license=source_metadata.get("license"),
        datasets=list(source_metadata.get("datasets") or []),
    )
    return render_card(facts)
