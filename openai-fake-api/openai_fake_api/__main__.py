"""python -m openai_fake_api: a local fake of the OpenAI API for trying code offline, until Ctrl-C.

    python -m openai_fake_api --port 8765
    OPENAI_BASE_URL=http://127.0.0.1:8765/v1 OPENAI_API_KEY=sk-fake python app.py

Prints its base URL once it listens. Each run plays the script named by the ``script`` key of the
run's or the assistant's metadata (``text`` when there is none); ``--list-scripts`` shows them,
``--scripts FILE`` adds yours (JSON, see ``openai_fake_api/script_file.py``). Every payload is validated with
the SDK's own models.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import List, Optional, Tuple

from .faults import ALIASES, ERROR_KINDS, TRANSPORT_KINDS, WEIRD_KINDS
from .responses_scripts import BUILTIN_RESPONSE_SCRIPTS
from .script_file import ScriptError, describe, load_scripts
from .scripts import BUILTIN_SCRIPTS
from .server import FakeAssistantsAPI

FAULT_KINDS = sorted({*ERROR_KINDS, *TRANSPORT_KINDS, *WEIRD_KINDS, *ALIASES})


def parse_fault(spec: str) -> Tuple[str, Optional[int], float]:
    """``KIND[=SECONDS][:COUNT]`` as (kind, count or None for every request, seconds)."""
    head, _, count = spec.partition(":")
    kind, _, seconds = head.partition("=")
    if kind not in FAULT_KINDS:
        raise argparse.ArgumentTypeError(f"unknown fault kind {kind!r}: one of {', '.join(FAULT_KINDS)}")
    try:
        times = None if count == "all" else int(count or 1)
        return kind, times, float(seconds or 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad fault {spec!r}: KIND[=SECONDS][:COUNT|all]") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="openai-fake-api", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="default 0: a free port, printed at start")
    parser.add_argument("--scripts", metavar="FILE", action="append", default=[],
                        help="JSON file of scripts by name (repeatable)")
    parser.add_argument("--list-scripts", action="store_true", help="print the scripts and exit")
    parser.add_argument("--no-usage", action="store_true",
                        help="answer usage: null, as servers before February 2024 did")
    parser.add_argument("--event-delay", type=float, default=0.0, metavar="SECONDS",
                        help="pause between stream events")
    parser.add_argument("--fault", nargs=2, action="append", default=[],
                        metavar=("KIND[=SECONDS][:COUNT]", "PATH_REGEX"),
                        help="fail the next COUNT (default 1, or 'all') requests whose path matches PATH_REGEX, "
                             f"e.g. --fault 429:2 '/runs$'; kinds: {', '.join(FAULT_KINDS)} "
                             "(delay=SECONDS sleeps first)")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        scripts = {name: script for path in args.scripts for name, script in load_scripts(path).items()}
        faults = [(parse_fault(spec), regex) for spec, regex in args.fault]
    except (OSError, ValueError, ScriptError, argparse.ArgumentTypeError) as error:
        parser.error(str(error))
    if args.list_scripts:
        for name, script in sorted({**BUILTIN_SCRIPTS, **scripts}.items()):
            print(f"{name:<24} {describe(script)}")
        for name, response in sorted(BUILTIN_RESPONSE_SCRIPTS.items()):
            print(f"{name:<24} {describe(response)}  (Responses API)")
        return
    server = FakeAssistantsAPI(args.host, args.port, report_usage=not args.no_usage, event_delay_s=args.event_delay)
    server.scripts.update(scripts)
    for (kind, count, seconds), regex in faults:
        server.faults.add(regex, kind, count, seconds=seconds)
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop cleanly on kill, as on Ctrl-C
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        for problem in server.validation_errors:
            print(f"invalid payload: {problem}", file=sys.stderr)


if __name__ == "__main__":
    main()
