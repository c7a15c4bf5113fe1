"""``python -m opentelemetry.instrumentation.openai_assistants.billing``: the billing exporter."""

import sys

from .cli import main

sys.exit(main())
