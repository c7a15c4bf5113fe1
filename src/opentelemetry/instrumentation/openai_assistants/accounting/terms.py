"""The price terms of one response, decided once from what was asked and what was served.

Pricing reads only the ``model.PriceTerms`` made here; nothing else decides a tier, a window or a
region. The facts and why each counts:

- service tier: the tier the response says it was served at (a request for priority can be served
  at standard); the requested one only when the response names none.
- completion window (``background_options.completion_window``, 2h or 8h): discounted only for a
  background, non-streamed request served at the standard tier (the openai SDK's
  ``BackgroundOptions`` docstring: "The 2h and 8h completion windows require background: true,
  Standard processing, and stream: false or omitted"; the Background mode guide: "the discount
  applies to model token rates on each eligible request"). The API refuses nothing for it that we
  could observe as billed, so a response that exists without meeting them is priced without the
  discount, and the terms say which precondition failed.
- regional processing: the client talks to a data-residency host (``eu.api.openai.com``, ...: a
  list in ``prices/token_modifiers.json``, overridable), or the user says every request is
  regional (a data-residency project reached through the global host); the uplift itself applies
  only to the models and dates its dated rule names.
- long context and cache rates are decided by the rates from the usage itself (input size,
  cached and cache-write tokens), not here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Optional

from ..model import PriceTerms, Response, ResponseRequest
from .modifiers import SOONEST, STANDARD_TIERS

logger = logging.getLogger(__name__)
_STANDARD_NAMES = STANDARD_TIERS | {"auto", "standard"}


@dataclass(frozen=True)
class TermFacts:
    """What the terms are decided from: the request's options, the served tier, the client's host."""

    served_tier: Optional[str]
    completion_window: Optional[str]
    background: bool
    stream: bool
    host: Optional[str]
    regional_hosts: Collection[str]
    regional_setting: bool


def _standard(tier: Optional[str]) -> bool:
    return (tier or "").lower() in _STANDARD_NAMES


# The completion window's preconditions: (what is required, whether it holds).
WINDOW_PRECONDITIONS: tuple[tuple[str, Callable[[TermFacts], bool]], ...] = (
    ("background", lambda f: f.background),
    ("not streamed", lambda f: not f.stream),
    ("standard tier", lambda f: _standard(f.served_tier)),
)


def regional_host(host: Optional[str], hosts: Collection[str]) -> bool:
    """Whether ``host`` is one of the data-residency hosts (case-insensitive, exact name)."""
    return host is not None and host.lower().rstrip(".") in hosts


def decide(facts: TermFacts) -> PriceTerms:
    """The terms a response is priced under: served tier, eligible window, regional processing."""
    window = (facts.completion_window or "").lower() or None
    waived = None
    if window is not None and window not in SOONEST:
        failed = [name for name, holds in WINDOW_PRECONDITIONS if not holds(facts)]
        if failed:
            waived = f"completion window {window} without its preconditions: {', '.join(failed)}"
            logger.debug("openai-assistants: %s; priced without its discount", waived)
            window = None
    regional = facts.regional_setting or regional_host(facts.host, facts.regional_hosts)
    return PriceTerms(service_tier=facts.served_tier, completion_window=window, regional=regional,
                      window_waived=waived)


def response_terms(
    request: ResponseRequest,
    response: Response,
    host: Optional[str],
    regional_hosts: Collection[str] = (),
    regional_setting: bool = False,
) -> PriceTerms:
    """The terms of ``response`` created by ``request`` through a client on ``host``."""
    return decide(TermFacts(
        served_tier=response.service_tier or request.service_tier,
        completion_window=request.completion_window,
        background=request.background or response.background,
        stream=request.stream,
        host=host,
        regional_hosts=regional_hosts,
        regional_setting=regional_setting,
    ))
