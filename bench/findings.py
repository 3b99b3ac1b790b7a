"""The findings extractor: accuracy on the labelled sentence sets, agreement with IU X-Ray's MeSH
terms, and speed; optionally the same for negspacy or medspacy.

    python bench/findings.py                       # MedMO's rule engine
    python bench/findings.py --engine negspacy     # in an environment with spacy + negspacy
    python bench/findings.py --engine medspacy     # in an environment with medspacy (spaCy < 3.8)

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
import statistics
import sys
import time
from collections import Counter
from pathlib import Path


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


def spacy_engine(kind: str):
    """An extractor with spaCy's pipeline for context, MedMO's lexicon for the finding phrases."""
    import spacy

    lexicon = findings_module.load_lexicon()
    rule_engine = findings_module.FindingsExtractor(lexicon)
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


def iu_agreement(extract):
    archive = iu_module.torchxrayvision_reports_archive()
    if archive is None:
        return None
    hit, predicted, gold, reports = Counter(), Counter(), Counter(), 0
    for report in iu_module.read_reports(archive):
        text = f"{report['findings']} {report['impression']}".strip()
        if not text or not report["mesh_major"] or report["mesh_major"] == ["No Indexing"]:
            continue
        reports += 1
        positives = {name for name, status in extract(text).items() if status == "positive"}
        truth = set(report["mesh_findings"])
        for name in positives | truth:
            predicted[name] += name in positives
            gold[name] += name in truth
            hit[name] += name in positives and name in truth
    return hit, predicted, gold, reports


def speed(extract, runs: int) -> float:
    report = (
        "The cardiomediastinal silhouette is within normal limits. There is a small left pleural effusion with "
        "adjacent basilar atelectasis, although superimposed consolidation cannot be excluded. No pneumothorax. "
        "Mild interstitial edema is present. A 9 mm nodule projects over the right upper lobe; follow-up CT may be "
        "considered. Degenerative changes of the thoracic spine. The endotracheal tube terminates 4 cm above the "
        "carina and the nasogastric tube courses below the diaphragm. Old healed right rib fractures. No free air. "
        "Possible small hiatal hernia. The previously described right apical opacity has resolved, and there is no "
        "new focal airspace disease. "
    ) * 2  # 200 words
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(200):
            extract(report)
        samples.append((time.perf_counter() - start) / 200)
    return 1 / statistics.median(samples), len(report.split())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["medmo", "negspacy", "medspacy"], default="medmo")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    extract = findings_module.FindingsExtractor() if args.engine == "medmo" else spacy_engine(args.engine)

    print(f"engine: {args.engine}\n")
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

    agreement = iu_agreement(extract)
    if agreement:
        hit, predicted, gold, reports = agreement
        print(f"\nIU X-Ray: positive findings vs the reports' MeSH major terms ({reports} indexed reports)\n")
        print("| finding | precision | recall | MeSH count |")
        print("|---|---:|---:|---:|")
        for name in sorted(gold, key=lambda n: -gold[n]):
            print(f"| {name} | {hit[name] / max(1, predicted[name]):.2f} | {hit[name] / max(1, gold[name]):.2f} | {gold[name]} |")
        pathology = [n for n in gold if n != "No Finding"]
        micro_p = sum(hit[n] for n in pathology) / max(1, sum(predicted[n] for n in pathology))
        micro_r = sum(hit[n] for n in pathology) / max(1, sum(gold[n] for n in pathology))
        print(f"| all but No Finding (micro) | {micro_p:.2f} | {micro_r:.2f} | {sum(gold[n] for n in pathology)} |")

    rate, words = speed(extract, args.runs)
    print(f"\nSpeed: {rate:,.0f} reports / s ({words}-word report, one core, median of {args.runs} runs)")


if __name__ == "__main__":
    main()
