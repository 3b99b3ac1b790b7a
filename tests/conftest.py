"""Shared fixtures and the offline guard for the whole suite.

Every test runs with `HF_HUB_OFFLINE=1`, a temporary `HF_HOME` and `MEDMO_CACHE` (evaluation's
image cache), and a socket guard that refuses any connection outside 127.0.0.1: no test can reach
the network, even by accident, or write into the user's caches.
"""

import importlib.util
import os
import socket
import tempfile

import pytest


_HF_HOME = tempfile.mkdtemp(prefix="medmo-tests-hf-home-")
os.environ.update(
    HF_HUB_OFFLINE="1",
    HF_HOME=_HF_HOME,
    MEDMO_CACHE=tempfile.mkdtemp(prefix="medmo-tests-cache-"),
    HF_HUB_DISABLE_TELEMETRY="1",
    TOKENIZERS_PARALLELISM="false",
    TRANSFORMERS_VERBOSITY="error",
)

_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_original_connect = socket.socket.connect


def _loopback_only_connect(sock, address):
    host = address[0] if isinstance(address, tuple) else address
    if sock.family == socket.AF_UNIX or host in _LOOPBACK:
        return _original_connect(sock, address)
    raise RuntimeError(f"Test tried to reach the network ({address!r}); tests must stay offline.")


socket.socket.connect = _loopback_only_connect


# The transformers 4.57 environment (.venv-tf4) runs only the `compat` tests and has no training
# stack (TRL, PEFT, datasets) nor the inference one (highdicom, fastapi, openai, optimum-quanto):
# modules that import them hold no compat tests and are not collected there.
TRAINING_STACK_MODULES = ["test_rewards.py", "test_training*.py", "test_data*.py", "test_evaluation*.py", "test_demo*.py", "test_sources.py",
                          "test_predict.py", "test_dicom_sr.py", "test_serve.py", "test_vllm_plugin.py", "test_quantization.py"]
if importlib.util.find_spec("trl") is None:
    collect_ignore_glob = TRAINING_STACK_MODULES


def pytest_configure(config):
    config.addinivalue_line("markers", "compat: runs on transformers 4.57 too (loading, parity, cross-version)")
    config.addinivalue_line("markers", "slow: takes more than a few seconds (multi-process, training runs)")


@pytest.fixture(scope="session")
def tokenizer():
    from medmo.tiny import build_tokenizer

    return build_tokenizer()


@pytest.fixture(scope="session")
def tiny(tokenizer):
    """A random tiny MedMO model and its processor (shared: do not modify them in place)."""
    from medmo.tiny import build_tiny

    return build_tiny(seed=0, tokenizer=tokenizer)


@pytest.fixture(scope="session")
def tiny_dir(tiny, tmp_path_factory):
    """The tiny model saved as a complete MedMO repository folder."""
    from medmo.checkpoint import save_medmo_folder

    model, processor = tiny
    return save_medmo_folder(model, processor, tmp_path_factory.mktemp("tiny-medmo"))
