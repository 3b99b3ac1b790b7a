"""`medmo serve` throughput and latency at concurrency 1 and 4, through the `openai` client.

    python bench/serve.py [--requests 16] [--new-tokens 16] [--runs 3] [--threads 1]

The tiny random MedMO served by `medmo serve` in its own process on the CPU (loopback), asked with
MedMO's grounding prompt about a 128-px phantom sent as a PNG data URL by
`medmo.inference.client.MedMOClient` (which also maps the boxes back), at most `--new-tokens`
tokens per answer. Each run sends `--requests` requests from `concurrency` client threads;
requests/s, p50 and p95 latency are the medians over `--runs` runs, concurrency levels in turn.
transformers' server generates one request at a time, so concurrency raises latency, not throughput.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from medmo.inference.client import MedMOClient
from medmo.tiny import save_tiny


REPO = Path(__file__).resolve().parents[1]


def wait_for(url: str, process: subprocess.Popen, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"medmo serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("medmo serve did not come up")


def one_run(client: MedMOClient, image: Path, requests: int, concurrency: int, new_tokens: int) -> tuple[float, float, float]:
    def ask(_):
        start = time.perf_counter()
        result = client.ground(image, max_tokens=new_tokens)
        assert result.response.usage.completion_tokens <= new_tokens
        return time.perf_counter() - start

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        latencies = list(pool.map(ask, range(requests)))
    wall = time.perf_counter() - start
    return requests / wall, float(np.percentile(latencies, 50)), float(np.percentile(latencies, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads of the server")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        model = save_tiny(Path(folder) / "tiny")
        image = sorted((REPO / "data" / "phantom" / "images").glob("phantom-heldout-*.png"))[1]
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
        server = subprocess.Popen([sys.executable, "-m", "medmo.cli", "serve", str(model), "--port", str(args.port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            wait_for(f"http://127.0.0.1:{args.port}/health", server)
            client = MedMOClient(f"http://127.0.0.1:{args.port}/v1")
            one_run(client, image, 4, 2, args.new_tokens)  # warm-up
            results = {1: [], 4: []}
            for _ in range(args.runs):
                for concurrency in results:
                    results[concurrency].append(one_run(client, image, args.requests, concurrency, args.new_tokens))
        finally:
            server.terminate()
            server.wait(timeout=30)

    print(f"## medmo serve: tiny MedMO, CPU ({args.threads} torch thread(s)), {args.requests} requests per run, a 128-px PNG each, "
          f"<= {args.new_tokens} new tokens, openai client over loopback, median of {args.runs} runs\n")  # fmt: skip
    print("| concurrency | requests / s | p50 latency (ms) | p95 latency (ms) |")
    print("|---:|---:|---:|---:|")
    for concurrency, runs in results.items():
        rate, p50, p95 = (statistics.median(values) for values in zip(*runs))
        print(f"| {concurrency} | {rate:.1f} | {p50 * 1000:.0f} | {p95 * 1000:.0f} |")


if __name__ == "__main__":
    main()
