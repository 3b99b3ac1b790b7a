# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""Findings in radiology text: which are asserted, denied or hedged.

A lean NegEx / ConText-style rule engine over a user-extensible lexicon (`lexicon.yaml`):

1. the text is split into sentences (a full stop ends one even without a following space), and
   sentences into clauses at terminators ("but", "however", ";", "there is", ...), which bound
   the scope of every trigger;
2. finding phrases are matched (longest first, case-insensitive, plurals accepted, words of degree
   such as "mildly" allowed between their words), except inside phrases that name something else
   ("pericardial effusion", "sclerotic lesion" of a bone);
3. each mention takes the status of the closest trigger in its clause: a post-trigger after it
   ("is not seen", "has resolved", "cannot be excluded") wins, else the nearest pre-trigger
   before it ("no", "without", "possible", ...); "pseudo" triggers ("no change in") are ignored;
4. a mention of a past episode ("history of pneumonia", "prior fracture") or a hypothetical one
   ("evaluation for pneumothorax") is dropped: it says nothing about this image. A chronic
   modifier ("old", "healed", "calcified", "known") between a past-episode trigger and the finding
   says the finding is still visible, so it stays present: "history of old rib fractures" is a
   fracture. Chronic modifiers do not change negation or uncertainty ("no old fracture" is negative);
5. mentions of one finding combine as positive > uncertain > negative (CheXpert's rule), and
   "No Finding" comes from whole-study normal statements unless a pathology is positive or
   uncertain.

>>> extract_findings("No pleural effusion. Small left apical pneumothorax. Consolidation cannot be excluded.")
{'Consolidation': 'uncertain', 'Pleural Effusion': 'negative', 'Pneumothorax': 'positive'}
>>> extract_findings("History of pneumonia. Old healed left rib fractures.")
{'Fracture': 'positive'}
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml


LEXICON_PATH = Path(__file__).with_name("lexicon.yaml")
STATUS_RANK = {"negative": 0, "uncertain": 1, "positive": 2}
NO_FINDING = "No Finding"
# Findings that do not count against "No Finding" (a normal study may carry a support device).
NOT_PATHOLOGY = {NO_FINDING, "Support Devices"}
TRIGGER_KINDS = ("pre_negation", "post_negation", "pre_uncertainty", "post_uncertainty", "historical", "hypothetical",
                 "chronic", "pseudo")  # fmt: skip
# A sentence ends at [.!?] before whitespace or the end, and at a full stop glued to the next
# sentence ("effusion.Small pneumothorax"), which must not carry the first sentence's negation over;
# two letters before the stop keep decimals ("2.5 cm") and initials ("U.S.") whole. Starting the
# pattern with the stop itself (it is dropped from the sentence) makes the split twice as fast as
# lookbehinds tried at every position.
_SENTENCE_BREAK = re.compile(r"[.!?](?:\s+|$|(?<=[A-Za-z]{2}[.!?])(?=[A-Z][a-z]))|\n+")


def _trie_regex(sequences: list[list[str]]) -> str:
    """A regex matching any of `sequences` (lists of regex atoms), factored as a trie.

    Python's `re` tries alternatives one by one; sharing prefixes ("pleural effusion",
    "pleural fluid", "pleural plaque" branch once after "pleural") makes matching several times
    faster on lexicons of hundreds of phrases. Longer continuations come first, so the longest
    phrase wins.
    """
    trie: dict = {}
    for atoms in sequences:
        node = trie
        for atom in atoms:
            node = node.setdefault(atom, {})
        node[""] = {}

    def build(node: dict) -> str:
        ends = "" in node
        branches = [atom + build(child) for atom, child in sorted(node.items(), key=lambda kv: -len(kv[0])) if atom]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return build(trie) or r"(?!x)x"


def _phrase_sequences(phrases: Iterable[str], plurals: bool, between: Iterable[str] = ()) -> list[list[str]]:
    """The phrases as lists of regex atoms for `_trie_regex`: spaces match any whitespace, plurals are
    optional, and each gap optionally holds one of the words `between` ("heart is mildly enlarged")."""
    gap = r"\s+"
    words = sorted({re.escape(w.strip().lower()) for w in between if w.strip()}, key=len, reverse=True)
    if words:
        gap += rf"(?:(?:{'|'.join(words)})\s+)?"
    sequences = []
    for phrase in {p.strip().lower() for p in phrases if p.strip()}:
        atoms = []
        for position, word in enumerate(phrase.split()):
            if position:
                atoms.append(gap)
            atoms.extend(re.escape(character) for character in word)
        if plurals and phrase[-1].isalpha():
            atoms.append(r"(?:e?s)?")
        sequences.append(atoms)
    return sequences


@dataclass(frozen=True)
class Lexicon:
    """A compiled lexicon: finding phrases, negative / normal statements, words of degree, phrases that
    are not findings, and context triggers."""

    findings: dict
    negative_statements: dict
    normal_statements: tuple
    triggers: dict
    degree_words: tuple = ()
    not_findings: tuple = ()

    @property
    def names(self) -> list[str]:
        return list(self.findings)


def load_lexicon(path: str | Path = LEXICON_PATH, extra_yaml: str | Path | None = None) -> Lexicon:
    """Read the lexicon, optionally merged with a user's extension file of the same layout."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if extra_yaml is not None:
        extra = yaml.safe_load(Path(extra_yaml).read_text(encoding="utf-8")) or {}
        for section in ("findings", "negative_statements"):
            for name, phrases in (extra.get(section) or {}).items():
                data.setdefault(section, {}).setdefault(name, [])
                data[section][name] = list(data[section][name] or []) + list(phrases or [])
        for section in ("normal_statements", "degree_words", "not_findings"):
            data[section] = list(data.get(section) or []) + list(extra.get(section) or [])
        for kind, phrases in (extra.get("triggers") or {}).items():
            if kind not in (*TRIGGER_KINDS, "terminators"):
                raise ValueError(f"Unknown trigger kind {kind!r} in {extra_yaml}; use one of {TRIGGER_KINDS + ('terminators',)}.")
            data["triggers"][kind] = list(data["triggers"].get(kind) or []) + list(phrases or [])
    return Lexicon(
        findings={name: tuple(phrases or ()) for name, phrases in data["findings"].items()},
        negative_statements={name: tuple(p) for name, p in (data.get("negative_statements") or {}).items()},
        normal_statements=tuple(data.get("normal_statements") or ()),
        triggers={kind: tuple(data["triggers"].get(kind) or ()) for kind in (*TRIGGER_KINDS, "terminators")},
        degree_words=tuple(data.get("degree_words") or ()),
        not_findings=tuple(data.get("not_findings") or ()),
    )


_KIND_STATUS = {
    "pre_negation": "negative",
    "post_negation": "negative",
    "pre_uncertainty": "uncertain",
    "post_uncertainty": "uncertain",
    "historical": None,  # a past episode: the mention is dropped
    "hypothetical": None,  # "evaluation for", "if": dropped too
}


def _key(text: str) -> str:
    return " ".join(text.lower().split())


class FindingsExtractor:
    """Compiled matcher for one lexicon. `extractor(text)` returns `{finding: status}`.

    Everything is found in one scan per sentence by a single trie-shaped regex whose named groups
    say what matched (a normal statement, a negative statement, a trigger, a terminator or a
    finding), then resolved left to right.
    """

    # Order matters where phrases overlap at one position: statements before triggers ("no acute
    # cardiopulmonary process" before "no"), skipped phrases (pseudo triggers, phrases that are not
    # findings) before real triggers ("no change") and mentions ("pericardial effusion"). Chronic
    # modifiers come after mentions so that a finding phrase starting with one ("calcified pleural
    # plaque") is matched whole. Every group costs time at every word, so the other context triggers
    # share one group (the longest phrase wins there) and `TRIGGER_PRIORITY` names a phrase's kind.
    GROUPS = ("normal", "negative_statement", "skip", "trigger", "terminator", "mention", "chronic")
    # A phrase listed under several kinds takes the first ("versus", "suspected": post_uncertainty,
    # which also hedges the findings after it).
    TRIGGER_PRIORITY = ("post_negation", "post_uncertainty", "historical", "hypothetical", "pre_negation",
                        "pre_uncertainty")  # fmt: skip

    def __init__(self, lexicon: Lexicon | None = None):
        self.lexicon = lexicon or load_lexicon()
        self._phrase_to_name = {_key(p): name for name, phrases in self.lexicon.findings.items() for p in phrases}
        self._statement_to_name = {_key(p): name for name, ps in self.lexicon.negative_statements.items() for p in ps}
        self._degree_words = {_key(word) for word in self.lexicon.degree_words}
        triggers = self.lexicon.triggers
        degree = self.lexicon.degree_words
        self._trigger_kind: dict[str, str] = {}
        for kind in self.TRIGGER_PRIORITY:
            for phrase in triggers[kind]:
                self._trigger_kind.setdefault(_key(phrase), kind)
        sequences = {
            "normal": _phrase_sequences(self.lexicon.normal_statements, False),
            "negative_statement": _phrase_sequences(self._statement_to_name, False),
            "trigger": _phrase_sequences(self._trigger_kind, False),
            "chronic": _phrase_sequences(triggers["chronic"], False),
            "skip": _phrase_sequences(triggers["pseudo"], False)
            + _phrase_sequences(self.lexicon.not_findings, True, degree),
            "terminator": _phrase_sequences(triggers["terminators"], False),
            "mention": _phrase_sequences(self._phrase_to_name, True, degree),
        }
        # One word-boundary test per position, then the tries (a `\b` per group costs 10 per position).
        alternatives = "|".join(f"(?P<{group}>{_trie_regex(sequences[group])})" for group in self.GROUPS)
        self._scanner = re.compile(rf"\b(?:{alternatives})\b|(?P<punctuation>[;:])", re.IGNORECASE)
        # Triggers listed both before and after ("versus") hedge the findings on both sides.
        self._two_sided = {_key(p) for p in set(triggers["pre_uncertainty"]) & set(triggers["post_uncertainty"])}

    def canonical(self, label: str) -> str | None:
        """The lexicon name a whole label stands for (synonyms, case, plurals), or None."""
        key = _key(label)
        names = {name.lower(): name for name in self.lexicon.names}
        if key in names:
            return names[key]
        match = self._scanner.fullmatch(key)
        return self._mention_name(key) if match and match.lastgroup == "mention" else None

    def _mention_name(self, text: str) -> str | None:
        key = _key(text)
        if key not in self._phrase_to_name and self._degree_words:  # "heart is mildly enlarged"
            key = " ".join(word for word in key.split() if word not in self._degree_words)
        if key in self._phrase_to_name:
            return self._phrase_to_name[key]
        for suffix in ("es", "s"):
            if key.endswith(suffix) and key[: -len(suffix)] in self._phrase_to_name:
                return self._phrase_to_name[key[: -len(suffix)]]
        return None

    def _clauses(self, sentence: str):
        """Events of each clause: lists of (start, kind, text); also whether a normal statement occurred."""
        clauses, current, normal = [], [], False
        for match in self._scanner.finditer(sentence):
            kind = match.lastgroup
            if kind in ("terminator", "punctuation"):
                clauses.append(current)
                current = []
            elif kind == "normal":
                normal = True
            elif kind == "trigger":
                current.append((match.start(), self._trigger_kind[_key(match.group(0))], match.group(0)))
            elif kind != "skip":
                current.append((match.start(), kind, match.group(0)))
        clauses.append(current)
        return clauses, normal

    def _resolve(self, clause) -> list[tuple[str, str]]:
        found = []
        for position, (start, kind, text) in enumerate(clause):
            if kind == "negative_statement":
                found.append((self._statement_to_name[_key(text)], "negative"))
                continue
            if kind != "mention":
                continue
            name = self._mention_name(text)
            if name is None:
                continue
            trigger = next((k for _, k, _ in clause[position + 1 :] if k.startswith("post_")), None)
            if trigger is None:
                trigger, chronic = None, False
                for _, k, t in reversed(clause[:position]):
                    if k == "chronic":
                        chronic = True
                    elif k in _KIND_STATUS and not k.startswith("post_"):
                        trigger = k
                        break
                    elif k == "post_uncertainty" and _key(t) in self._two_sided:
                        trigger = "pre_uncertainty"
                        break
                if trigger == "historical" and chronic:  # "prior healed fracture": still on the image
                    trigger = None
            if trigger in ("historical", "hypothetical"):
                continue
            found.append((name, _KIND_STATUS.get(trigger, "positive") if trigger else "positive"))
        return found

    def __call__(self, text: str) -> dict[str, str]:
        if not isinstance(text, str) or not text.strip():
            return {}
        statuses: dict[str, str] = {}
        normal = False
        for sentence in _SENTENCE_BREAK.split(text):
            if not sentence or sentence.isspace():
                continue
            clauses, sentence_normal = self._clauses(sentence)
            normal = normal or sentence_normal
            for clause in clauses:
                for name, status in self._resolve(clause):
                    if name not in statuses or STATUS_RANK[status] > STATUS_RANK[statuses[name]]:
                        statuses[name] = status
        statuses.pop(NO_FINDING, None)
        pathology = any(status != "negative" for name, status in statuses.items() if name not in NOT_PATHOLOGY)
        if normal and not pathology:
            statuses[NO_FINDING] = "positive"
        return dict(sorted(statuses.items()))


@lru_cache(maxsize=1)
def default_extractor() -> FindingsExtractor:
    return FindingsExtractor()


def extract_findings(text: str) -> dict[str, str]:
    """`{canonical finding: "positive" | "negative" | "uncertain"}` for the findings `text` mentions.

    Canonical names are the 14 CheXpert observations plus NIH ChestX-ray14's Mass, Nodule,
    Emphysema, Fibrosis, Pleural Thickening, Hernia and Infiltration. Never raises.
    """
    return default_extractor()(text)


def positive_findings(text: str) -> set[str]:
    return {name for name, status in extract_findings(text).items() if status == "positive"}


@lru_cache(maxsize=4096)
def normalize_label(label: str) -> str:
    """A finding label in canonical form: a lexicon name when any phrase matches it whole (synonyms,
    case, plurals), else the label lower-cased with whitespace collapsed."""
    return default_extractor().canonical(str(label)) or _key(str(label))


__all__ = ["FindingsExtractor", "Lexicon", "extract_findings", "load_lexicon", "normalize_label", "positive_findings"]
