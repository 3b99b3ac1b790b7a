# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""An optional LLM judge for open answers and reports, through any OpenAI-compatible endpoint.

Off by default. The prompt template is `judge_prompt.txt` in this folder (versioned with the
code); results record the judge model and the template's SHA-256 so scores stay comparable.
The API key is read from an environment variable and never written anywhere.
"""

import hashlib
import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from medmo.boxes import final_answer


TEMPLATE_PATH = Path(__file__).with_name("judge_prompt.txt")


class Judge:
    def __init__(self, endpoint: str, model: str, api_key_env: str = "OPENAI_API_KEY", timeout: float = 60.0):
        self.endpoint = endpoint.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.template = TEMPLATE_PATH.read_text(encoding="utf-8")

    @property
    def template_sha256(self) -> str:
        return hashlib.sha256(self.template.encode("utf-8")).hexdigest()

    def grade(self, question: str, reference: str, prediction: str) -> float | None:
        """1.0 (CORRECT), 0.0 (INCORRECT), or None when the judge did not answer usably."""
        prompt = self.template.format(question=question, reference=reference, prediction=final_answer(prediction))
        body = json.dumps({"model": self.model, "temperature": 0, "messages": [{"role": "user", "content": prompt}]}).encode()
        request = urllib.request.Request(f"{self.endpoint}/chat/completions", data=body, headers={"Content-Type": "application/json"})
        key = os.environ.get(self.api_key_env)
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = json.loads(response.read())["choices"][0]["message"]["content"].strip().upper()
        except (urllib.error.URLError, KeyError, IndexError, ValueError, TimeoutError):
            return None
        if text.startswith("CORRECT"):
            return 1.0
        if text.startswith("INCORRECT"):
            return 0.0
        return None

    def score(self, records: list[dict]) -> dict:
        """Judge every open answer and report; mean score per kind, with how many were graded."""
        results = {"judge_model": self.model, "prompt_sha256": self.template_sha256, "endpoint": self.endpoint}
        for kind in ("open", "report"):
            grades = [self.grade(r["prompt"], r["reference"], r["prediction"]) for r in records if r["kind"] == kind]
            usable = [g for g in grades if g is not None]
            if grades:
                results[kind] = {"value": sum(usable) / len(usable) if usable else None, "graded": len(usable), "n": len(grades)}
        return results


__all__ = ["Judge"]
