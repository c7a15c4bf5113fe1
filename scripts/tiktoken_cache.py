"""Find a tiktoken cache holding the encodings the tests and the demo use, or say how to make one.

    python scripts/tiktoken_cache.py [--no-download]

Prints the cache directory on stdout (exit 0), or on stderr what to do (exit 1). Looks, in order, in
``TIKTOKEN_CACHE_DIR``, in ``shared/tiktoken-cache`` beside the checkout (where CI keeps one), then lets
tiktoken download both encodings into ``TIKTOKEN_CACHE_DIR`` or its default cache (bounded by a timeout:
tiktoken's own download has none). Standard library only until the download, so it runs before any install.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Optional

URLS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}
#: tiktoken names each cached file by the sha1 of the URL it came from.
FILES = {name: hashlib.sha1(url.encode()).hexdigest() for name, url in URLS.items()}
SHARED = Path(__file__).resolve().parents[2] / "shared" / "tiktoken-cache"
DOWNLOAD_TIMEOUT_S = 30.0


def complete(directory: Optional[str | Path]) -> bool:
    """Whether ``directory`` holds both encoding files."""
    return bool(directory) and all((Path(str(directory)) / f).is_file() for f in FILES.values())


def default_dir() -> str:
    """Where tiktoken caches when ``TIKTOKEN_CACHE_DIR`` is unset."""
    return os.environ.get("DATA_GYM_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "data-gym-cache")


def download(directory: str, timeout_s: float = DOWNLOAD_TIMEOUT_S) -> bool:
    """Let tiktoken fetch both encodings into ``directory``; False on any failure or timeout."""
    os.environ["TIKTOKEN_CACHE_DIR"] = directory
    done = threading.Event()

    def fetch() -> None:
        try:
            import tiktoken

            for name in FILES:
                tiktoken.get_encoding(name)
            done.set()
        except Exception:  # no network, no package: the caller explains what to do
            pass

    threading.Thread(target=fetch, daemon=True).start()
    return done.wait(timeout_s) and complete(directory)


def advice(looked_in: list[str]) -> str:
    """The one message that says exactly how to get a cache."""
    files = "\n".join(f"    {file}   ({name}, from {URLS[name]})" for name, file in FILES.items())
    return (
        "No tiktoken encodings found (looked in: " + ", ".join(looked_in) + ") and downloading them failed.\n"
        "The tests count tokens with tiktoken's o200k_base and cl100k_base encodings. Either:\n"
        "  - run once on a machine with network access:\n"
        "        mkdir -p ~/tiktoken-cache && TIKTOKEN_CACHE_DIR=~/tiktoken-cache python -c "
        "\"import tiktoken; [tiktoken.get_encoding(e) for e in ('o200k_base', 'cl100k_base')]\"\n"
        "    then copy that directory here; or\n"
        "  - download the two files yourself into one directory, named by the sha1 of their URL:\n"
        f"{files}\n"
        "and run again with TIKTOKEN_CACHE_DIR=/path/to/that/directory."
    )


def resolve(allow_download: bool = True) -> tuple[Optional[str], list[str]]:
    """The cache directory to use, or None; and where it looked."""
    env = os.environ.get("TIKTOKEN_CACHE_DIR")
    looked: list[str] = []
    for candidate in (env, str(SHARED) if SHARED.is_dir() else None):
        if candidate:
            looked.append(candidate)
            if complete(candidate):
                return os.path.abspath(os.path.expanduser(candidate)), looked
    if not allow_download:
        return None, looked
    target = os.path.abspath(os.path.expanduser(env or default_dir()))
    if target not in looked:
        looked.append(target)
    os.makedirs(target, exist_ok=True)
    return (target if download(target) else None), looked


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-download", action="store_true", help="only look in existing caches")
    args = parser.parse_args(argv)
    found, looked = resolve(allow_download=not args.no_download)
    if found is None:
        if not args.no_download:
            print(advice(looked), file=sys.stderr)
        return 1
    print(found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
