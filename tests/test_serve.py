"""`medmo serve` end to end on CPU over loopback: the `openai` client, boxes mapped to original
pixels by the client helper, concurrent requests, and the rule that keeps requests from making
the server read its own files."""

import base64
import functools
import http.server
import io
import json
import logging
import threading
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest
import torch
from inference_helpers import free_port
from PIL import Image
from pydicom.data import get_testdata_file

from medmo.cli import build_parser
from medmo.inference.client import MedMOClient, image_part
from medmo.inference.serve import Server


ANSWER = "Nodule <box>[[16, 32, 48, 64]]</box>"
LOGGERS = ("", "medmo", "transformers", "uvicorn", "uvicorn.error", "uvicorn.access", "fastapi", "httpx", "openai")


@pytest.fixture(scope="module")
def server(tiny_dir):
    with Server(str(tiny_dir), port=free_port()) as running:
        yield running


@pytest.fixture
def client(server):
    return MedMOClient(server.base_url)


@pytest.fixture
def scripted(server):
    """The served model answers `ANSWER` (a model whose boxes are known); restored afterwards."""
    model, processor = server.manager.load_model_and_processor(server.manager.served_name)
    answer = processor.tokenizer(ANSWER, add_special_tokens=False, return_tensors="pt").input_ids

    def generate(input_ids=None, **kwargs):
        return torch.cat([input_ids, answer.repeat(input_ids.shape[0], 1)], dim=1)

    model.generate = generate
    yield processor
    del model.generate


class Reply:
    def __init__(self, status_code: int, text: str):
        self.status_code, self.text = status_code, text

    def json(self):
        return json.loads(self.text)


def request(url: str, body: dict | None = None) -> Reply:
    """A raw HTTP request (POST when `body` is given); its status and text, errors included."""
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}), timeout=60) as response:
            return Reply(response.status, response.read().decode())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.read().decode())


def chat(server, url, **extra) -> Reply:
    """A raw chat request with one image URL."""
    body = {"model": server.manager.served_name, "max_tokens": 4,
            "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": "Findings?"}]}], **extra}  # fmt: skip
    return request(f"{server.base_url}/chat/completions", body)


def test_client_maps_boxes_to_original_pixels(server, client, scripted, tmp_path):
    Image.new("RGB", (300, 200), (30, 30, 30)).save(tmp_path / "wide.png")
    result = client.ground(tmp_path / "wide.png")
    assert result.text == ANSWER and result.image_size == (300, 200)
    expected = scripted.post_process_grounding([ANSWER], [(300, 200)])[0]
    assert result.boxes == expected and expected[0]["box"] != [16.0, 32.0, 48.0, 64.0]  # 300x200 is resized: a real mapping


@pytest.mark.parametrize("send", ["dicom", "png"])
def test_dicom_goes_as_its_own_bytes_or_rendered(server, client, scripted, send):
    dicom = get_testdata_file("RG1_UNCR.dcm")  # 1841 x 1955 CR: far larger than the model's input
    result = client.ground(dicom, send=send)
    assert result.image_size == (1841, 1955)
    assert result.boxes == scripted.post_process_grounding([ANSWER], [(1841, 1955)])[0]


def test_a_nifti_slice_is_sent_rendered(server, client, scripted):
    import nibabel

    volume = Path(nibabel.__file__).parent / "tests" / "data" / "anatomical.nii"
    result = client.ground(volume, axis="coronal", slice_index=20)
    assert result.boxes == scripted.post_process_grounding([ANSWER], [result.image_size])[0]


def test_box_settings_from_a_repository_folder_match_the_servers(server, tiny_dir):
    assert MedMOClient(server.base_url, processor=tiny_dir).frame == MedMOClient(server.base_url).frame


def test_two_concurrent_requests_are_both_answered(server, client, tmp_path):
    Image.new("RGB", (64, 96), (90, 90, 90)).save(tmp_path / "a.png")
    results, errors = [None, None], []

    def ask(slot):
        try:
            results[slot] = client.ask(tmp_path / "a.png", "Describe the findings.", max_tokens=6)
        except Exception as error:  # surfaced below with the thread's slot
            errors.append((slot, error))

    threads = [threading.Thread(target=ask, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    for result in results:
        assert result.response.choices[0].finish_reason in ("length", "stop") and result.response.usage.completion_tokens <= 6
    assert results[0].text == results[1].text  # greedy, same input: the real model answered both


# --------------------------------------------------------------------------- security


@pytest.fixture
def opened(monkeypatch):
    """Every file the server's image readers open during a test."""
    import PIL.Image
    import pydicom

    paths = []
    real_open, real_read = PIL.Image.open, pydicom.dcmread

    def spy_open(fp, *args, **kwargs):
        paths.append(fp)
        return real_open(fp, *args, **kwargs)

    def spy_read(fp, *args, **kwargs):
        paths.append(fp)
        return real_read(fp, *args, **kwargs)

    monkeypatch.setattr(PIL.Image, "open", spy_open)
    monkeypatch.setattr(pydicom, "dcmread", spy_read)
    return paths


@pytest.mark.parametrize("url", ["/etc/hosts", "../weights/model.safetensors", "file:///etc/hosts", "model.safetensors", "C:\\Windows\\win.ini",
                                 "ftp://127.0.0.1/x.png", "http://127.0.0.1:9/x.png", "aGVsbG8="])  # fmt: skip
def test_paths_and_other_urls_are_refused_before_anything_is_read(server, tiny_dir, url, opened):
    response = chat(server, url.replace("model.safetensors", str(Path(tiny_dir) / "model.safetensors")) if url == "model.safetensors" else url)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "only as base64 data: URLs" in detail and "file paths and other URL schemes are refused" in detail
    assert "--allow-remote-images" in detail
    assert opened == []


def test_the_openai_client_sees_the_rule(server, client):
    with pytest.raises(openai.BadRequestError) as refused:
        client.openai.chat.completions.create(model=client.model, max_tokens=2, messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "/etc/hosts"}}, {"type": "text", "text": "hi"}]}])  # fmt: skip
    assert "data: URLs" in str(refused.value.body)


def test_other_content_types_and_template_kwargs_are_refused(server, opened):
    body = {"model": server.manager.served_name, "messages": [{"role": "user", "content": [{"type": "image", "image": "/etc/hosts"}]}]}
    response = request(f"{server.base_url}/chat/completions", body)
    assert response.status_code == 400 and "'image' is not accepted" in response.json()["detail"]
    pixel = base64.b64encode(_png(1, 1)).decode()
    response = chat(server, f"data:image/png;base64,{pixel}", chat_template_kwargs={"images": ["/etc/hosts"]})
    assert response.status_code == 400 and "chat_template_kwargs" in response.json()["detail"]
    response = chat(server, f"data:image/png;base64,{pixel}", generation_config='{"max_new_tokens": 2}')
    assert response.status_code == 400 and "generation_config" in response.json()["detail"]
    assert opened == []


def test_bad_data_urls_are_client_errors(server):
    assert chat(server, "data:image/png,rawbytes").status_code == 400
    assert chat(server, "data:image/png;base64,!!!not base64!!!").status_code == 400
    assert chat(server, "data:image/png;base64," + base64.b64encode(b"not an image").decode()).status_code == 400


def test_only_the_served_model_is_served(server, tiny_dir):
    response = chat(server, "data:image/png;base64," + base64.b64encode(_png(8, 8)).decode(), model=str(tiny_dir))
    assert response.status_code == 400 and "pinned" in response.json()["detail"]
    events = request(f"{server.base_url.removesuffix('/v1')}/load_model", {"model": "/etc"}).text
    assert '"status": "error"' in events and "serves only" in events
    models = request(f"{server.base_url}/models").json()["data"]
    assert [m["id"] for m in models] == [server.manager.served_name]
    assert request(f"{server.base_url}/systemone", {}).status_code == 404


def test_loopback_is_the_default_address(tiny_dir):
    assert build_parser().parse_args(["serve", str(tiny_dir)]).host == "127.0.0.1"
    import inspect

    assert inspect.signature(Server).parameters["host"].default == "127.0.0.1"


def test_request_bodies_and_images_are_never_logged(server, client, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:  # uvicorn's and transformers' loggers do not propagate to the root
        logging.getLogger(name).addHandler(caplog.handler)
    try:
        Image.new("RGB", (40, 40), (1, 2, 3)).save(tmp_path / "x.png")
        part, _ = image_part(tmp_path / "x.png")
        client.ask(tmp_path / "x.png", "SECRET-PROMPT-4711 describe", max_tokens=2)
        chat(server, "/home/patient/SECRET-PATH.dcm")
    finally:
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(caplog.handler)
    assert "chat/completions" in caplog.text  # requests were logged (by uvicorn's access log) ...
    payload = part["image_url"]["url"].split(",")[1]
    for secret in ("SECRET-PROMPT-4711", "SECRET-PATH", payload[:40], payload[-40:]):  # ... but never what they carried
        assert secret not in caplog.text


# --------------------------------------------------------------------------- remote images, opt-in


def _png(width, height) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def image_host(tmp_path):
    """A loopback HTTP server with one PNG and one redirect."""
    (tmp_path / "scan.png").write_bytes(_png(30, 20))

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/scan.png")
                self.end_headers()
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    host = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), functools.partial(Handler, directory=str(tmp_path)))
    threading.Thread(target=host.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{host.server_address[1]}"
    host.shutdown()


def test_http_images_only_when_enabled(tiny_dir, image_host, server):
    assert chat(server, f"{image_host}/scan.png").status_code == 400
    with Server(str(tiny_dir), port=free_port(), allow_remote_images=True, max_image_bytes=10_000) as remote:
        assert chat(remote, f"{image_host}/scan.png").status_code == 200
        assert chat(remote, f"{image_host}/redirect").status_code == 400  # redirects are not followed
        assert chat(remote, "/etc/hosts").status_code == 400
        big = "data:image/png;base64," + base64.b64encode(b"\0" * 20_000).decode()
        assert chat(remote, big).status_code == 413


def test_readme_client_block_runs_as_written(server, scripted, tmp_path, monkeypatch, capsys):
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    code = re.search(r"<!-- tested: serve-client\b.*?-->.*?```python\n(.*?)```", readme, re.DOTALL).group(1)
    monkeypatch.chdir(tmp_path)
    import shutil

    shutil.copy(get_testdata_file("CT_small.dcm"), tmp_path / "chest.dcm")
    exec(code.replace("http://127.0.0.1:8000/v1", server.base_url), {})
    printed = capsys.readouterr().out.splitlines()
    expected = scripted.post_process_grounding([ANSWER], [(128, 128)])[0]
    assert printed == [ANSWER] + [f"{f['label']} {f['box']}" for f in expected]


def test_the_responses_api_follows_the_same_rule(server, opened):
    def respond(url):
        content = [{"type": "input_image", "image_url": url}, {"type": "input_text", "text": "Findings?"}]
        return request(f"{server.base_url}/responses", {"model": server.manager.served_name, "stream": False, "max_output_tokens": 2,
                                                         "input": [{"role": "user", "content": content}]})  # fmt: skip

    refused = respond("/etc/hosts")
    assert refused.status_code == 400 and "only as base64 data: URLs" in refused.json()["detail"] and opened == []
    assert respond("data:image/png;base64," + base64.b64encode(_png(16, 16)).decode()).status_code == 200
