"""``python -m opentelemetry.instrumentation.openai_assistants``: the installation's self-check."""

import sys

from .selfcheck import main

sys.exit(main())
