"""``python -m fakeapi --port 8000``: run the fake Assistants API until interrupted."""

from __future__ import annotations

import argparse
import threading
from typing import List, Optional

from .server import FakeAssistantsAPI


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fakeapi", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--no-usage", action="store_true", help="answer usage: null (servers before Feb 2024)"
    )
    parser.add_argument("--event-delay", type=float, default=0.0, help="seconds between stream events")
    args = parser.parse_args(argv)
    server = FakeAssistantsAPI(
        args.host, args.port, report_usage=not args.no_usage, event_delay_s=args.event_delay
    ).start()
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
