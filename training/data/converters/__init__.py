# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Converters from each data set's published raw layout into MedMO's training schema.

    medmo data convert nih_chestxray14 raw/nih data/converted/nih_chestxray14 --model models/medmo-8b

A converter is a thin layer over a reader of `medmo.sources` (which knows the layout): each record
becomes rows (`rows.record_rows`), images that are not plain files are written to
`<output>/images/`, and problems are counted. `CONVERTERS` maps a converter name to it;
`data_cards/registry.yaml` says which converter (and options) each data set uses.

Options (`--option key=value`, or `options:` in the registry) go to the reader (see each reader's
`read` for its own) except these, which are the converter's: `splits` (convert only these splits,
e.g. `[train]`), `prompt_task` (the prompt bank of grounding or caption records: `grounding`,
`microscopy`, `caption`, `report`) and `keep_noisy` (DeepLesion: keep annotations the release
flags as possibly noisy, which are left out by default).
"""

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from medmo.sources import Problem, Record, conversations, generic as generic_source, materialise, phantom as phantom_source
from medmo.sources import (
    chexpert_plus,
    deeplesion,
    instance_masks,
    iu_xray,
    mimic_cxr,
    multiple_choice,
    nih_chestxray14,
    pathvqa,
    pmc_vqa,
    pubmedqa,
    slake,
    vqa_rad,
    yolo,
)

from .base import ConversionError, Context, Row, Summary, convert
from .rows import record_rows


CONVERTER_OPTIONS = ("splits", "prompt_task", "keep_noisy")


def _splits(value) -> tuple[str, ...] | None:
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(value)


def _reader_options(read: Callable, options: dict, name: str) -> dict:
    accepted = [p.name for p in inspect.signature(read).parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    accepted = [option for option in accepted if option not in ("root", "splits")]
    unknown = sorted(set(options) - set(accepted) - set(CONVERTER_OPTIONS))
    if unknown:
        raise ConversionError(f"{name} takes no option(s) {unknown}; its options: {accepted + list(CONVERTER_OPTIONS)}.")
    return {key: value for key, value in options.items() if key in accepted}


@dataclass(frozen=True)
class Converter:
    """Rows from a reader of `medmo.sources`; `leave_out(record, options)` gives a reason to leave a
    record out of training (counted like a problem) or None."""

    read: Callable[..., Iterator[Record | Problem]]
    leave_out: Callable[[Record, dict], str | None] | None = None

    def __call__(self, context: Context) -> Iterator[Row | Problem]:
        options = dict(context.options)
        reader_options = _reader_options(self.read, options, f"{self.read.__module__.rsplit('.', 1)[-1]}.{self.read.__name__}")
        for item in self.read(context.raw, _splits(options.get("splits")), **reader_options):
            if isinstance(item, Record) and self.leave_out is not None and (reason := self.leave_out(item, options)):
                item = Problem(item.location, reason)
            if isinstance(item, Record):
                item = materialise(item, context.output_dir / "images", by_name=True)
            if isinstance(item, Problem):
                yield item
            else:
                yield from record_rows(item, context.processor, options.get("prompt_task"))


def _noisy(record: Record, options: dict) -> str | None:
    return "flagged possibly noisy" if record.meta.get("possibly_noisy") and not options.get("keep_noisy") else None


def phantom(context: Context) -> Iterator[Row | Problem]:
    """Phantoms drawn afresh (the raw folder is not read). Options: `train`, `heldout` (counts),
    `seed`, `size` (pixels). Even-numbered phantoms give their boxes, odd ones their report; splits
    `train` and `heldout` (seeds that training never uses)."""
    options = dict(context.options)
    unknown = sorted(set(options) - {"train", "heldout", "seed", "size"})
    if unknown:
        raise ConversionError(f"phantom takes no option(s) {unknown}; its options: train, heldout, seed, size.")
    drawn = phantom_source.generate(int(options.get("train", 600)), int(options.get("heldout", 200)), int(options.get("seed", 0)),
                                    int(options.get("size", 128)))  # fmt: skip
    for _, index, records in drawn:
        record = materialise(records[1] if index % 2 else records[0], context.output_dir / "images", by_name=True)
        if isinstance(record, Problem):
            yield record
        else:
            yield from record_rows(record, context.processor)


phantom.reads_raw = False

CONVERTERS = {
    "nih_chestxray14": Converter(nih_chestxray14.read),
    "deeplesion": Converter(deeplesion.read, leave_out=_noisy),
    "yolo": Converter(yolo.read),
    "instance_masks": Converter(instance_masks.read),
    "vqa_rad": Converter(vqa_rad.read),
    "slake": Converter(slake.read),
    "pathvqa": Converter(pathvqa.read),
    "pmc_vqa": Converter(pmc_vqa.read),
    "mimic_cxr": Converter(mimic_cxr.read),
    "iu_xray": Converter(iu_xray.read),
    "chexpert_plus": Converter(chexpert_plus.read),
    "medqa": Converter(multiple_choice.medqa),
    "medmcqa": Converter(multiple_choice.medmcqa),
    "pubmedqa": Converter(pubmedqa.read),
    "llava": Converter(conversations.llava),
    "instruction": Converter(conversations.instruction),
    "generic": Converter(generic_source.read),
    "phantom": phantom,
}

__all__ = ["CONVERTERS", "ConversionError", "Converter", "Summary", "convert"]
