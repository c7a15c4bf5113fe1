"""Fixtures of the accounting tests: tiktoken's cache of the shared dir, a real redis-server."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TIKTOKEN_CACHE = Path(os.environ.get("TIKTOKEN_CACHE_DIR") or REPO.parent / "shared" / "tiktoken-cache")

if str(REPO / "src") not in sys.path:  # the package may not be installed in the test environment
    sys.path.insert(0, str(REPO / "src"))
if TIKTOKEN_CACHE.is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(TIKTOKEN_CACHE))


@pytest.fixture(scope="session")
def tiktoken_cache() -> Path:
    assert TIKTOKEN_CACHE.is_dir(), f"tiktoken encodings expected in {TIKTOKEN_CACHE}"
    return TIKTOKEN_CACHE
