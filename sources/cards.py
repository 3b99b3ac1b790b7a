# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Data cards and the registry: reading them, checking that they agree, writing the index table.

The cards (`data_cards/*.md`) and `data_cards/registry.yaml` ship with the package (as
`medmo/data_cards/`), so an installed `medmo data convert NAME` finds its data set's entry.

    python -m medmo.sources.cards > data_cards/README.md     # regenerate the index table
"""

import re
from pathlib import Path

import yaml


CARDS_DIR = Path(__file__).resolve().parents[1] / "data_cards"
REGISTRY = CARDS_DIR / "registry.yaml"
ROLES = ("train", "eval", "train+eval")
ACCESS = ("public", "registration", "credentialed", "unknown")
CARD_KEYS = ("pretty_name", "license", "license_details", "task_categories", "modality", "size_categories", "size",
             "source_url", "paper_url", "citation", "medmo")  # fmt: skip
MEDMO_KEYS = ("registry_name", "role", "stages", "access", "access_details", "box_format", "box_frame", "splits_used", "known_issues")
SECTIONS = ("## Summary", "## Source and access", "## Content", "## Use in MedMO", "## Known issues", "## Unknowns", "## References")


def read_card(path: Path) -> dict:
    """A card's front matter (YAML) plus its body under the key `_body`."""
    text = path.read_text(encoding="utf-8")
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.DOTALL)
    if not match:
        raise ValueError(f"{path.name}: no YAML front matter.")
    card = yaml.safe_load(match.group(1))
    card["_body"] = match.group(2)
    return card


def read_cards(folder: Path = CARDS_DIR) -> dict[str, dict]:
    return {path.stem: read_card(path) for path in sorted(folder.glob("*.md")) if path.name != "README.md"}


def read_registry(path: Path = REGISTRY) -> dict[str, dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def problems(cards: dict[str, dict], registry: dict[str, dict]) -> list[str]:
    """Every disagreement between cards and registry, and every missing or invalid field. (That a
    training entry's converter exists is the converters' business: their tests check it.)"""
    found = []
    for name in sorted(set(cards) - set(registry)):
        found.append(f"card {name}.md has no registry entry")
    for name, entry in registry.items():
        card = cards.get(name)
        if card is None:
            found.append(f"registry entry {name} has no card")
            continue
        found += [f"{name}.md: missing front-matter key {key}" for key in CARD_KEYS if key not in card]
        medmo = card.get("medmo", {})
        found += [f"{name}.md: missing medmo.{key}" for key in MEDMO_KEYS if key not in medmo]
        found += [f"{name}.md: missing section {section}" for section in SECTIONS if section not in card["_body"]]
        if medmo.get("registry_name") != name:
            found.append(f"{name}.md: registry_name is {medmo.get('registry_name')!r}")
        if entry.get("role") not in ROLES or entry.get("role") != medmo.get("role"):
            found.append(f"{name}: role {entry.get('role')!r} differs from the card's {medmo.get('role')!r}")
        if entry.get("access") not in ACCESS or entry.get("access") != medmo.get("access"):
            found.append(f"{name}: access {entry.get('access')!r} differs from the card's {medmo.get('access')!r}")
        if entry.get("license") != card.get("license"):
            found.append(f"{name}: licence {entry.get('license')!r} differs from the card's {card.get('license')!r}")
        if list(entry.get("stages") or []) != list(medmo.get("stages") or []):
            found.append(f"{name}: stages {entry.get('stages')} differ from the card's {medmo.get('stages')}")
        if "train" in entry.get("role", "") and not entry.get("converter"):
            found.append(f"{name}: a training set needs a converter")
        if not (isinstance(entry.get("weight"), (int, float)) and entry["weight"] > 0):
            found.append(f"{name}: weight must be a positive number")
        if "eval" in entry.get("role", "") and not entry.get("eval_task"):
            found.append(f"{name}: an evaluation set needs an eval_task")
    return found


def _cell(values) -> str:
    return ", ".join(str(v) for v in values) if isinstance(values, list) else str(values)


def index_table(cards: dict[str, dict]) -> str:
    """`data_cards/README.md`: one row per card."""
    lines = [
        "# Data cards",
        "",
        "Every data set MedMO trains or is evaluated on. Each card cites its sources and says `unknown` where",
        "a fact could not be found. `registry.yaml` is the machine-readable form the recipes and converters",
        "use. This table is generated: `python -m medmo.sources.cards > data_cards/README.md`.",
        "",
        "| name | data set | modality | task | licence | access | stages | role | card |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, card in cards.items():
        medmo = card["medmo"]
        lines.append(
            f"| {name} | {card['pretty_name']} | {_cell(card['modality'])} | {_cell(card['task_categories'])} | {card['license']} "
            f"| {medmo['access']} | {_cell(medmo['stages']) or '-'} | {medmo['role']} | [{name}.md]({name}.md) |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    print(index_table(read_cards()), end="")


if __name__ == "__main__":
    main()
