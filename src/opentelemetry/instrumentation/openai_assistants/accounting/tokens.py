"""Token counting with the model's own tiktoken encoding, never on the app's path and never raising.

tiktoken downloads an encoding on first use, with no timeout, and takes about half a second to load
one. So encodings load lazily (or ahead of time with :func:`TokenCounter.preload`, in a daemon
thread), a cache miss in ``TIKTOKEN_CACHE_DIR`` is detected before tiktoken is asked (it would try
the network), and a load that may download runs in a thread bounded by a timeout. When no encoding
can be had, one warning is logged and an approximate counter takes over: it still gives a number,
and its results say ``degraded``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
import threading
from collections.abc import Iterable
from typing import Any, Optional, Protocol

logger = logging.getLogger(__name__)

O200K = "o200k_base"
CL100K = "cl100k_base"
APPROXIMATE = "approx-chars/4"

# Where tiktoken fetches each encoding: the sha1 of this URL names the file in its cache dir.
_BLOB_URLS = {
    O200K: "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    CL100K: "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}

# Model name prefixes using cl100k_base; everything else (gpt-4o*, gpt-4.1*, gpt-5*, o1/o3/o4*,
# unknown models) uses o200k_base, the encoding of every model released since May 2024.
_CL100K_PREFIXES = ("gpt-4-", "gpt-3.5", "gpt-35")
_CL100K_EXACT = frozenset({"gpt-4", "gpt-4-turbo", "gpt-4-turbo-preview", "gpt-4-1106-preview"})


def encoding_name_for(model: Optional[str]) -> str:
    """The tiktoken encoding of a model name (a snapshot or an alias)."""
    name = (model or "").strip().lower()
    if "/" in name:  # "openai/gpt-4o" on some compatible servers
        name = name.rsplit("/", 1)[1]
    if name in _CL100K_EXACT:
        return CL100K
    if name.startswith(_CL100K_PREFIXES) and not name.startswith(("gpt-4o", "gpt-4.")):
        return CL100K
    return O200K


class Encoder(Protocol):
    """Counts tokens of text for one encoding; ``degraded`` when it only approximates."""

    @property
    def name(self) -> str: ...

    @property
    def degraded(self) -> bool: ...

    def count(self, text: str) -> int: ...


class TiktokenEncoder:
    """A loaded tiktoken encoding. ``encode_ordinary``: special-token text in user content is text."""

    degraded = False

    def __init__(self, encoding: Any) -> None:
        self._encoding = encoding
        self.name: str = encoding.name

    def count(self, text: str) -> int:
        if not text:
            return 0
        return len(self._encoding.encode_ordinary(text))


class ApproximateEncoder:
    """Fallback when no encoding loads: one token per 4 characters (OpenAI's rule of thumb for English)."""

    degraded = True
    name = APPROXIMATE

    def count(self, text: str) -> int:
        return math.ceil(len(text) / 4) if text else 0


def _cache_dir() -> Optional[str]:
    """tiktoken's cache directory, or None when caching is off (then every load downloads)."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        path = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        path = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        path = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    return path or None


def cached_file(encoding_name: str) -> Optional[str]:
    """Path of the encoding's file in tiktoken's cache when it is there, else None."""
    url = _BLOB_URLS.get(encoding_name)
    directory = _cache_dir()
    if url is None or directory is None:
        return None
    path = os.path.join(directory, hashlib.sha1(url.encode()).hexdigest())
    return path if os.path.isfile(path) else None


class TokenCounter:
    """Encoders by model, loaded once per encoding, thread-safe.

    ``allow_download``: when the cache lacks an encoding, let tiktoken fetch it (bounded by
    ``load_timeout_s``), unless ``TIKTOKEN_CACHE_DIR`` is set: a user who points tiktoken at a cache
    has said where the encodings are, and a miss there is reported rather than fetched.
    """

    def __init__(self, *, load_timeout_s: float = 15.0, allow_download: bool = True) -> None:
        self._timeout = load_timeout_s
        self._allow_download = allow_download
        self._lock = threading.Lock()
        self._encoders: dict[str, Encoder] = {}
        self._loading: dict[str, threading.Event] = {}
        self._warned = False
        self._approx = ApproximateEncoder()

    def encoder(self, model: Optional[str]) -> Encoder:
        """The encoder for ``model``: its tiktoken encoding, or the approximate one (degraded)."""
        return self._encoder_by_name(encoding_name_for(model))

    def count(self, text: str, model: Optional[str]) -> int:
        return self.encoder(model).count(text)

    def preload(self, models: Iterable[Optional[str]]) -> threading.Thread:
        """Load the encodings of ``models`` in a daemon thread, off the caller's path."""
        names = sorted({encoding_name_for(m) for m in models})

        def load() -> None:
            for name in names:
                self._encoder_by_name(name)

        thread = threading.Thread(target=load, name="otel-assistants-tiktoken-preload", daemon=True)
        thread.start()
        return thread

    def _encoder_by_name(self, name: str) -> Encoder:
        found = self._encoders.get(name)
        if found is not None:
            return found
        with self._lock:
            found = self._encoders.get(name)
            if found is not None:
                return found
            event = self._loading.get(name)
            owner = event is None
            if event is None:
                event = self._loading[name] = threading.Event()
        if owner:
            loaded = self._load(name)
            with self._lock:
                self._encoders[name] = loaded
                event.set()
            return loaded
        event.wait(self._timeout + 1.0)
        return self._encoders.get(name, self._approx)

    def _load(self, name: str) -> Encoder:
        reason: Optional[str] = None
        if cached_file(name) is None and (
            not self._allow_download or os.environ.get("TIKTOKEN_CACHE_DIR") or name not in _BLOB_URLS
        ):
            reason = f"encoding {name} is not in the tiktoken cache ({_cache_dir()})"
        else:
            encoding = self._load_bounded(name)
            if isinstance(encoding, str):
                reason = encoding
            else:
                return TiktokenEncoder(encoding)
        self._warn_once(reason)
        return self._approx

    def _load_bounded(self, name: str) -> Any:
        """tiktoken.get_encoding in a daemon thread: returns the encoding or a failure reason."""
        result: dict[str, Any] = {}

        def target() -> None:
            try:
                import tiktoken

                result["encoding"] = tiktoken.get_encoding(name)
            except Exception as exc:  # any failure (network, corrupt file, missing package)
                result["error"] = f"{type(exc).__name__}: {exc}"

        thread = threading.Thread(target=target, name=f"otel-assistants-tiktoken-{name}", daemon=True)
        thread.start()
        thread.join(self._timeout)
        if "encoding" in result:
            return result["encoding"]
        return result.get("error", f"loading encoding {name} took more than {self._timeout}s")

    def _warn_once(self, reason: str) -> None:
        with self._lock:
            if self._warned:
                return
            self._warned = True
        logger.warning(
            "No tiktoken encoding available (%s); token estimates are approximate (marked degraded). "
            "Set TIKTOKEN_CACHE_DIR to a directory holding tiktoken's encoding files.",
            reason,
        )


_default: Optional[TokenCounter] = None
_default_lock = threading.Lock()


def default_counter() -> TokenCounter:
    """The process-wide counter, so each encoding is loaded once."""
    global _default
    with _default_lock:
        if _default is None:
            _default = TokenCounter()
        return _default
