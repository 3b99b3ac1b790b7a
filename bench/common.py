"""Helpers the bench scripts share."""

import subprocess
import sys


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
