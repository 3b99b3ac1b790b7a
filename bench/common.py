"""Helpers the bench scripts share."""

import statistics
import subprocess
import sys
import time


def measure(command: list[str]) -> tuple[float, float]:
    """Peak RSS (MB) and wall time (s) of `command`, run alone in a fresh child process."""
    probe = (
        "import resource, subprocess, sys, time; start = time.perf_counter(); "
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, time.perf_counter() - start)"
    )
    output = subprocess.run([sys.executable, "-c", probe, *command], check=True, capture_output=True, text=True)
    peak, seconds = map(float, output.stdout.split())
    return peak, seconds


def median_seconds(function, runs: int, repeat: int = 1) -> float:
    """Median wall time of one call of `function` over `runs` samples (each `repeat` calls), after a warm-up call."""
    function()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(repeat):
            function()
        samples.append((time.perf_counter() - start) / repeat)
    return statistics.median(samples)
