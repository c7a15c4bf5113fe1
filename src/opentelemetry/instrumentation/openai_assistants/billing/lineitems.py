"""OpenAI's cost line items -> our cost kinds (``openai_cost.kind``), from a data file users can replace."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Optional

OTHER = "other"


@dataclass(frozen=True)
class LineItems:
    parts: dict[str, str]
    model_prefixes: dict[str, str]
    contains: tuple[tuple[str, str], ...]
    model_contains: tuple[tuple[str, str], ...] = ()  # a phrase in the model part: audio and video models

    def kind(self, line_item: Optional[str]) -> str:
        """The cost kind of a line item: by its part after ``"<model>, "``, else by a known phrase."""
        item = (line_item or "").strip().lower()
        model, sep, part = item.rpartition(",")
        if sep:
            for prefix, kind in self.model_prefixes.items():
                if model.strip().startswith(prefix):
                    return kind
            for phrase, kind in self.model_contains:
                if phrase in model:
                    return kind
            found = self.parts.get(part.strip().replace("_", " "))
            if found:
                return found
        for phrase, kind in self.contains:
            if phrase in item:
                return kind
        return OTHER


def load(path: Optional[str] = None) -> LineItems:
    """The mapping from ``path``, or the packaged ``line_items.json``."""
    packaged = resources.files(__package__).joinpath("line_items.json")
    text = Path(path).read_text() if path else packaged.read_text()
    data = json.loads(text)
    return LineItems(parts=dict(data["parts"]), model_prefixes=dict(data.get("model_prefixes", {})),
                     contains=tuple((str(p), str(k)) for p, k in data.get("contains", [])),
                     model_contains=tuple((str(p), str(k)) for p, k in data.get("model_contains", [])))
