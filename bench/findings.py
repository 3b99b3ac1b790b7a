"""The findings extractor: accuracy on the labelled sentence sets, agreement with IU X-Ray's MeSH
terms, and speed; optionally the same for negspacy or medspacy.

    python bench/findings.py                       # MedMO's rule engine, IU X-Ray test half
    python bench/findings.py --half dev            # the half rules are corrected on
    python bench/findings.py --rules ../before     # another checkout's rules (findings.py + lexicon)
    python bench/findings.py --engine negspacy     # in an environment with spacy + negspacy
    python bench/findings.py --engine medspacy     # in an environment with medspacy (spaCy < 3.8)

IU X-Ray is split once into two halves by a hash of the report id (`sources/iu_xray.py`,
`extractor_half`): misses are read and rules corrected on the dev half only; the test half is only
scored, and its table is the figure to quote. `--rules` scores another checkout's extractor on the
same halves and MeSH mapping (this repository's `iu_xray.py`), for before/after tables:

    git worktree add /tmp/before <commit> && python bench/findings.py --rules /tmp/before

Every engine gets the same finding phrases (MedMO's lexicon) and the same whole-study "normal"
handling, so the comparison is about the context algorithm: negation and uncertainty.
Sets: `tests/data/findings_sentences.jsonl` (281 sentences written to the labelling spec; the rule
engine was corrected on it) and `tests/data/findings_sentences_heldout.jsonl` (written later by
someone else to the same spec; never used to change rules). IU X-Ray reports come from the
torchxrayvision wheel (installed with --no-deps; never copied into the repository).
"""

import argparse
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

from common import median_seconds


REPO = Path(__file__).resolve().parents[1]
STATUSES = ("positive", "negative", "uncertain")


def load_module(name: str, path: Path):
    """Import a file of this repository without importing the `medmo` package (other environments)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


findings_module = load_module("medmo_findings", REPO / "clinical" / "findings.py")
iu_module = load_module("medmo_iu_xray", REPO / "sources" / "iu_xray.py")


def spacy_engine(kind: str, rules):
    """An extractor with spaCy's pipeline for context, the lexicon of `rules` (a findings module) for
    the finding phrases."""
    import spacy

    lexicon = rules.load_lexicon()
    rule_engine = rules.FindingsExtractor(lexicon)
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    patterns = []
    for name, phrases in lexicon.findings.items():
        for phrase in phrases:
            for variant in {phrase, phrase + "s", phrase + "es"}:
                patterns.append({"label": "FINDING", "pattern": variant, "id": name})
    ruler.add_patterns(patterns)
    if kind == "negspacy":
        from negspacy.negation import Negex  # noqa: F401  (registers the pipe)

        nlp.add_pipe("negex", config={"ent_types": ["FINDING"]})
    else:
        import medspacy  # noqa: F401
        from medspacy.context import ConText  # noqa: F401

        nlp.add_pipe("medspacy_context", config={"span_attrs": "default"})

    def status_of(entity) -> str | None:
        if kind == "negspacy":
            return "negative" if entity._.negex else "positive"
        if entity._.is_historical or entity._.is_hypothetical or entity._.is_family:
            return None
        if entity._.is_negated:
            return "negative"
        return "uncertain" if entity._.is_uncertain else "positive"

    def extract(text: str) -> dict[str, str]:
        result: dict[str, str] = {}
        for entity in nlp(text).ents:
            status = status_of(entity)
            if status and (entity.ent_id_ not in result or findings_module.STATUS_RANK[status] > findings_module.STATUS_RANK[result[entity.ent_id_]]):
                result[entity.ent_id_] = status
        # The same lexicon-level statements as the rule engine, so only the context step differs.
        shared = rule_engine(text)
        for name, status in shared.items():
            if name == findings_module.NO_FINDING or (status == "negative" and name not in result):
                result.setdefault(name, status)
        if any(status != "negative" for name, status in result.items() if name not in findings_module.NOT_PATHOLOGY):
            result.pop(findings_module.NO_FINDING, None)
        return result

    return extract


def sentence_scores(extract, path: Path):
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    hit, predicted, gold, exact = Counter(), Counter(), Counter(), 0
    for item in items:
        prediction, truth = extract(item["text"]), item["findings"]
        exact += prediction == truth
        for name in set(prediction) | set(truth):
            p, g = prediction.get(name), truth.get(name)
            predicted[p] += p is not None
            gold[g] += g is not None
            hit[g] += p == g and g is not None
    rows = {status: (hit[status] / predicted[status] if predicted[status] else 0.0,
                     hit[status] / gold[status] if gold[status] else 0.0, gold[status]) for status in STATUSES}  # fmt: skip
    return rows, exact, len(items)


def iu_agreement(extract, half: str):
    """Positive findings vs MeSH on the MeSH-indexed reports of one half (or "all"), and No Finding's
    specificity: of the reports MeSH does not call normal (any term), and of those with a MeSH term
    mapped to a pathology, the share the extractor does not call normal."""
    archive = iu_module.torchxrayvision_reports_archive()
    if archive is None:
        return None
    hit, predicted, gold, reports = Counter(), Counter(), Counter(), 0
    not_normal = Counter()  # {("any" | "pathology", called normal or not): reports}
    for report in iu_module.read_reports(archive):
        text = f"{report['findings']} {report['impression']}".strip()
        if not text or not report["mesh_major"] or report["mesh_major"] == ["No Indexing"]:
            continue
        if half != "all" and iu_module.extractor_half(report["id"]) != half:
            continue
        reports += 1
        positives = {name for name, status in extract(text).items() if status == "positive"}
        truth = set(report["mesh_findings"])
        for name in positives | truth:
            predicted[name] += name in positives
            gold[name] += name in truth
            hit[name] += name in positives and name in truth
        called_normal = findings_module.NO_FINDING in positives
        if findings_module.NO_FINDING not in truth:
            not_normal["any", called_normal] += 1
        if truth - findings_module.NOT_PATHOLOGY:
            not_normal["pathology", called_normal] += 1
    return hit, predicted, gold, reports, not_normal


def speed(extract, runs: int) -> tuple[float, int]:
    report = (
        "The cardiomediastinal silhouette is within normal limits. There is a small left pleural effusion with "
        "adjacent basilar atelectasis, although superimposed consolidation cannot be excluded. No pneumothorax. "
        "Mild interstitial edema is present. A 9 mm nodule projects over the right upper lobe; follow-up CT may be "
        "considered. Degenerative changes of the thoracic spine. The endotracheal tube terminates 4 cm above the "
        "carina and the nasogastric tube courses below the diaphragm. Old healed right rib fractures. No free air. "
        "Possible small hiatal hernia. The previously described right apical opacity has resolved, and there is no "
        "new focal airspace disease. "
    ) * 2  # 200 words
    return 1 / median_seconds(lambda: extract(report), runs, repeat=200), len(report.split())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["medmo", "negspacy", "medspacy"], default="medmo")
    parser.add_argument("--half", choices=["test", "dev", "all"], default="test",
                        help="IU X-Ray reports to score: the untouched test half (default), the dev half, or all")
    parser.add_argument("--rules", type=Path, default=None,
                        help="root of another checkout whose clinical/findings.py and lexicon.yaml to score")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    rules, root = findings_module, REPO
    if args.rules is not None:
        root = args.rules.resolve()
        if not (root / "clinical" / "findings.py").exists():
            parser.error(f"{root / 'clinical' / 'findings.py'} does not exist; --rules takes the root of a MedMO checkout")
        rules = load_module("medmo_findings_rules", root / "clinical" / "findings.py")
    extract = rules.FindingsExtractor() if args.engine == "medmo" else spacy_engine(args.engine, rules)

    print(f"engine: {args.engine}, rules from {root}\n")
    print("| set | status | precision | recall | n |")
    print("|---|---|---:|---:|---:|")
    for label, name in (("dev", "findings_sentences.jsonl"), ("held-out", "findings_sentences_heldout.jsonl")):
        path = REPO / "tests" / "data" / name
        if not path.exists():
            continue
        rows, exact, total = sentence_scores(extract, path)
        for status, (precision, recall, count) in rows.items():
            print(f"| {label} | {status} | {precision:.3f} | {recall:.3f} | {count} |")
        print(f"| {label} | all labels of an item right | {exact}/{total} = {exact / total:.3f} | | |")

    agreement = iu_agreement(extract, args.half)
    if agreement:
        hit, predicted, gold, reports, not_normal = agreement
        print(f"\nIU X-Ray, {args.half} half{'s' if args.half == 'all' else ''}: positive findings vs the reports' MeSH "
              f"major terms ({reports} indexed reports)\n")
        print("| finding | precision | recall | MeSH count | extractor count |")
        print("|---|---:|---:|---:|---:|")
        for name in sorted(set(gold) | set(predicted), key=lambda n: (-gold[n], n)):
            precision = f"{hit[name] / predicted[name]:.3f}" if predicted[name] else "-"
            recall = f"{hit[name] / gold[name]:.3f}" if gold[name] else "-"
            print(f"| {name} | {precision} | {recall} | {gold[name]} | {predicted[name]} |")
        pathology = [n for n in gold | predicted if n != findings_module.NO_FINDING]
        micro_p = sum(hit[n] for n in pathology) / max(1, sum(predicted[n] for n in pathology))
        micro_r = sum(hit[n] for n in pathology) / max(1, sum(gold[n] for n in pathology))
        print(f"| all but No Finding (micro) | {micro_p:.3f} | {micro_r:.3f} | {sum(gold[n] for n in pathology)} | "
              f"{sum(predicted[n] for n in pathology)} |")
        for scope, label in (("any", "any MeSH term but normal"), ("pathology", "a MeSH term mapped to a pathology")):
            kept, total = not_normal[scope, False], not_normal[scope, False] + not_normal[scope, True]
            print(f"\nNo Finding specificity, reports with {label}: {kept}/{total} = {kept / max(1, total):.3f} "
                  "not called normal")

    rate, words = speed(extract, args.runs)
    print(f"\nSpeed: {rate:,.0f} reports / s ({words}-word report, one core, median of {args.runs} runs)")


if __name__ == "__main__":
    main()
