# Copyright 2026 The MedMO package authors. Licensed under the Apache License, Version 2.0.
"""`medmo serve`: an OpenAI-compatible chat endpoint for a MedMO repository, on transformers' server.

    medmo serve runs/medmo-8b                      # http://127.0.0.1:8000/v1/chat/completions
    medmo serve runs/medmo-8b --quantization int8  # CPU, int8 weight-only

This is `transformers serve`'s own FastAPI app (`transformers.cli.serving`: request validation,
the OpenAI response types, streaming, the inference thread) run in-process with three MedMO parts
swapped in, instead of a second server written from scratch:

- `MedMOModelManager`, transformers' `ModelManager` pinned to one model that MedMO's loader loads
  (`transformers serve --trust-remote-code` stops at `getattr(transformers, "MedMOForConditionalGeneration")`),
  so the MedMO processor reads the images (DICOM included) and answers keep MedMO's box frame;
- chat-completions and responses handlers that resolve every image under `ImagePolicy` *before*
  the processor sees the request;
- a `GET /v1/medmo/box-frame` route with the processor's box settings, so a client maps boxes to
  original pixels exactly as the server's processor would (`medmo.inference.client`).

Security: stock transformers (and MedMO's processor) load an image from a local path when given
one, so a request naming `/etc/hosts` or `../weights/model.safetensors` would make the server read
its own files. Here images come only as base64 `data:` URLs (PNG, JPEG, ..., or DICOM as
`data:application/dicom;base64,...`), or as http(s) URLs when started with
`--allow-remote-images`; anything else is refused with HTTP 400 naming that rule, as are content
types other than text and images, `chat_template_kwargs` (which reach the processor) and
`generation_config`; images over `max_image_bytes` get 413 (cap whole request bodies in the
reverse proxy that adds authentication, if the server is exposed). The
server binds to 127.0.0.1 unless `--host` says otherwise, serves only its own model (`/load_model`
of anything else is refused), and logs neither request bodies nor images. `/v1/systemone` and
`/v1/audio/transcriptions` are not served (their inputs bypass the image rule).

Concurrent requests are accepted and generated one after another on transformers' inference
thread (its continuous batching serves text-only models); for throughput use vLLM
(`medmo.inference.vllm_plugin`).
"""

import base64
import io
import logging
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path


logger = logging.getLogger(__name__)

DEFAULT_MAX_IMAGE_BYTES = 64 * 2**20
IMAGE_RULE = ("medmo serve accepts images only as base64 data: URLs (data:image/png;base64,... or data:application/dicom;base64,...)"
              "{remote}; file paths and other URL schemes are refused, so that a request can never make the server read its own files.")  # fmt: skip
DICOM_MEDIA_TYPES = ("application/dicom", "application/dicom+binary")
CONTENT_TYPES = ("text", "input_text", "output_text", "image_url", "input_image")


def _require_serving():
    import importlib.util

    from transformers.utils.import_utils import is_serve_available

    if importlib.util.find_spec("transformers.cli.serving") is None:
        import transformers

        raise ImportError(f"medmo serve runs transformers' serving app (transformers.cli.serving), which transformers {transformers.__version__} "
                          "lacks: pip install -U 'transformers>=5.24'")  # fmt: skip
    if not is_serve_available():
        raise ImportError('medmo serve needs fastapi, uvicorn, pydantic and openai: pip install "medmo[serve]"')


def _http_error(status: int, detail: str):
    from fastapi import HTTPException

    return HTTPException(status_code=status, detail=detail)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect could lead anywhere, the server's own network included
        return None


class ImagePolicy:
    """Turns a request's image URL into an RGB image, or refuses it with an HTTP error."""

    def __init__(self, allow_remote_images: bool = False, max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES, timeout: float = 10.0):
        self.allow_remote_images, self.max_image_bytes, self.timeout = allow_remote_images, max_image_bytes, timeout

    @property
    def rule(self) -> str:
        remote = ", or http(s) URLs (enabled on this server)" if self.allow_remote_images else " (http(s) URLs only with --allow-remote-images)"
        return IMAGE_RULE.format(remote=remote)

    def load(self, url):
        if not isinstance(url, str):
            raise _http_error(400, self.rule)
        if url.startswith("data:"):
            media_type, data = self._data_url(url)
        elif url.lower().startswith(("http://", "https://")) and self.allow_remote_images:
            media_type, data = self._fetch(url)
        else:
            raise _http_error(400, self.rule)
        return self._decode(media_type, data)

    def _data_url(self, url: str) -> tuple[str, bytes]:
        header, _, payload = url.partition(",")
        if not header.endswith(";base64"):
            raise _http_error(400, "Image data URLs must be base64-encoded (data:<media type>;base64,...).")
        if len(payload) * 3 // 4 > self.max_image_bytes:
            raise _http_error(413, f"The image is larger than this server's limit of {self.max_image_bytes // 2**20} MB.")
        try:
            return header[len("data:") : -len(";base64")].lower(), base64.b64decode(payload, validate=True)
        except ValueError:
            raise _http_error(400, "The image data URL is not valid base64.") from None

    def _fetch(self, url: str) -> tuple[str, bytes]:
        opener = urllib.request.build_opener(_NoRedirects)
        try:
            with opener.open(url, timeout=self.timeout) as response:
                data = response.read(self.max_image_bytes + 1)
                media_type = (response.headers.get_content_type() or "").lower()
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise _http_error(400, f"The image URL could not be fetched ({type(error).__name__}).") from None
        if len(data) > self.max_image_bytes:
            raise _http_error(413, f"The image is larger than this server's limit of {self.max_image_bytes // 2**20} MB.")
        return media_type, data

    @staticmethod
    def _decode(media_type: str, data: bytes):
        from PIL import Image, UnidentifiedImageError

        from medmo.medical_images import load_image

        try:
            if media_type in DICOM_MEDIA_TYPES or data[128:132] == b"DICM":
                import pydicom

                return load_image(pydicom.dcmread(io.BytesIO(data)))
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                return load_image(image)
        except ImportError as error:
            raise _http_error(400, f"The server cannot decode this image: {error}") from None
        except (UnidentifiedImageError, Image.DecompressionBombError) as error:
            raise _http_error(400, f"The image could not be decoded ({type(error).__name__}).") from None
        except (ValueError, OSError, EOFError, KeyError, TypeError) as error:
            # pydicom and PIL raise these for damaged data; their messages never carry the data itself
            raise _http_error(400, f"The image could not be decoded: {str(error)[:200]}") from None


def _handler_classes():
    from transformers.cli.serving.chat_completion import ChatCompletionHandler
    from transformers.cli.serving.response import ResponseHandler

    class SafeInputs:
        """Checks a request's content and resolves its images under the server's `ImagePolicy`."""

        image_policy: ImagePolicy

        def _validate_request(self, body: dict) -> None:
            if body.get("chat_template_kwargs"):
                raise _http_error(400, "medmo serve does not accept chat_template_kwargs (they reach the processor, which reads files).")
            if body.get("generation_config"):
                raise _http_error(400, "medmo serve does not accept generation_config; use max_tokens, temperature, top_p, seed, stop.")
            super()._validate_request(body)

        def get_processor_inputs_from_messages(self, messages: list[dict], modality) -> list[dict]:
            for message in messages:
                content = message.get("content") if isinstance(message, dict) else None
                for part in content if isinstance(content, list) else []:
                    kind = part.get("type") if isinstance(part, dict) else None
                    if kind not in CONTENT_TYPES:
                        raise _http_error(400, f"Content type {kind!r} is not accepted: send text, and images as image_url data: URLs. " + self.image_policy.rule)
            converted = super().get_processor_inputs_from_messages(messages, modality)
            for message in converted:
                for part in message["content"] if isinstance(message.get("content"), list) else []:
                    if part.get("type") == "image":
                        part["image"] = self.image_policy.load(part.pop("url", None))
            return converted

    class MedMOChatCompletionHandler(SafeInputs, ChatCompletionHandler):
        pass

    class MedMOResponseHandler(SafeInputs, ResponseHandler):
        pass

    return MedMOChatCompletionHandler, MedMOResponseHandler


class _NotServed:
    """An endpoint of transformers' app that this server does not offer."""

    def __init__(self, what: str):
        self.what = what

    async def handle_request(self, *args, **kwargs):
        raise _http_error(404, f"{self.what} is not served by medmo serve; use /v1/chat/completions.")


def _model_manager_class():
    from transformers.cli.serving.model_manager import ModelManager, TimedModel
    from transformers.cli.serving.utils import Modality

    class MedMOModelManager(ModelManager):
        """transformers' model manager, pinned to one MedMO model loaded by MedMO's loader."""

        def __init__(self, model_path: str, served_name: str, device: str | None = None, quantization: str | None = None):
            self.model_path, self.served_name, self.quantization_method = str(model_path), served_name, quantization
            self.load_device = device
            self._load_lock = threading.Lock()
            super().__init__(device=device or "auto", force_model=served_name, model_timeout=-1)

        def process_model_name(self, model_id: str) -> str:
            return model_id if model_id == self.served_name else ModelManager.process_model_name(model_id)

        def load_model_and_processor(self, model_id_and_revision: str, progress_callback=None, tqdm_class=None, gguf_file=None):
            if model_id_and_revision != self.served_name or gguf_file is not None:
                raise _http_error(404, f"This server serves only {self.served_name!r}.")
            with self._load_lock:
                if self.served_name not in self.loaded_models:
                    from .quantization import load_for_inference

                    model, processor = load_for_inference(self.model_path, device=self.load_device, quantization=self.quantization_method)
                    self.loaded_models[self.served_name] = TimedModel(model, timeout_seconds=-1, processor=processor)
                timed = self.loaded_models[self.served_name]
            if progress_callback is not None:
                progress_callback({"status": "ready", "model": self.served_name, "cached": True})
            return timed.model, timed.processor

        @staticmethod
        def get_model_modality(model, processor=None):
            return Modality.VLM

    return MedMOModelManager


def build_app(model: str, served_model_name: str | None = None, device: str | None = None, quantization: str | None = None,
              allow_remote_images: bool = False, max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES):  # fmt: skip
    """transformers' serving app with MedMO's model manager and handlers; loads the model now.

    Returns `(app, model_manager)`.
    """
    _require_serving()
    from fastapi.responses import JSONResponse
    from transformers.cli.serving.completion import CompletionHandler
    from transformers.cli.serving.server import build_server
    from transformers.cli.serving.utils import GenerationState

    served = served_model_name or Path(model).name or str(model)
    manager = _model_manager_class()(model, served, device=device, quantization=quantization)
    state = GenerationState(continuous_batching=False)
    chat_class, response_class = _handler_classes()
    policy = ImagePolicy(allow_remote_images, max_image_bytes)
    chat, responses = chat_class(model_manager=manager, generation_state=state), response_class(model_manager=manager, generation_state=state)
    chat.image_policy = responses.image_policy = policy
    app = build_server(manager, chat, completion_handler=CompletionHandler(model_manager=manager, generation_state=state),
                       response_handler=responses, transcription_handler=_NotServed("/v1/audio/transcriptions"),
                       systemone_handler=_NotServed("/v1/systemone"), generation_state=state)  # fmt: skip

    @app.get("/v1/medmo/box-frame")
    def medmo_box_frame():
        """The processor settings that map a reply's boxes to original pixels (see `medmo.inference.client`)."""
        import dataclasses

        from .client import BoxFrame

        _, processor = manager.load_model_and_processor(served)
        return JSONResponse({"model": served, **dataclasses.asdict(BoxFrame.from_processor(processor))})

    return app, manager


class Server:
    """`medmo serve` in a background thread, for tests, benches and notebooks.

    >>> with Server("runs/medmo-8b", port=8000) as server:  # doctest: +SKIP
    ...     print(server.base_url)  # http://127.0.0.1:8000/v1
    """

    def __init__(self, model: str, host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning", **app_options):
        import uvicorn

        self.app, self.manager = build_app(model, **app_options)
        self.host, self.port = host, port
        self.server = uvicorn.Server(uvicorn.Config(self.app, host=host, port=port, log_level=log_level))
        self._thread = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self, timeout: float = 60.0) -> "Server":
        self._thread = threading.Thread(target=self.server.run, name="medmo-serve", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"medmo serve did not start on {self.host}:{self.port} (is the port in use?).")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def serve(model: str, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info", **app_options) -> None:
    """Serve `model` until interrupted (what `medmo serve` runs)."""
    import uvicorn

    app, _ = build_app(model, **app_options)
    if host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("medmo serve listens on %s: reachable from other machines; it has no authentication.", host)
    logger.info("serving %s on http://%s:%d/v1 (images: data: URLs%s)", model, host, port,
                ", http(s) URLs" if app_options.get("allow_remote_images") else " only")  # fmt: skip
    uvicorn.run(app, host=host, port=port, log_level=log_level)


__all__ = ["IMAGE_RULE", "ImagePolicy", "Server", "build_app", "serve"]
