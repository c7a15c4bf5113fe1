"""Fixtures of the accounting tests: the tiktoken cache, a real redis-server."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from scripts.tiktoken_cache import complete

REPO = Path(__file__).resolve().parents[2]

if str(REPO / "src") not in sys.path:  # the package may not be installed in the test environment
    sys.path.insert(0, str(REPO / "src"))


@pytest.fixture(scope="session")
def tiktoken_cache() -> Path:
    """The filled cache the root conftest found (``TIKTOKEN_CACHE_DIR``)."""
    path = Path(os.environ.get("TIKTOKEN_CACHE_DIR", ""))
    assert complete(path), f"tiktoken encodings expected in TIKTOKEN_CACHE_DIR={path}"
    return path
