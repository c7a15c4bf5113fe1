"""The account of one inference that is its own unit of billing (a Responses API response).

Reported usage passes through exactly; without it, the estimate made from what was observed is
used and marked so. Tokens are priced by the dated tables at ``created_at`` under the price terms
(served tier, background window): ordinary input, cached reads, cache writes and output, each at
its own rate. Whatever cannot be priced keeps its tokens, gets no cost and says why.
"""

from __future__ import annotations

from typing import Optional

from ..model import PriceTerms, Usage
from .account import COST_INPUT, COST_OUTPUT, RunAccount, RunLeaf
from .pricing import PriceBook, Unpriced

COST_CACHED_INPUT = "cached_input_tokens"
COST_CACHE_WRITE = "cache_write_tokens"
COST_AUDIO_INPUT = "audio_input_tokens"
COST_AUDIO_OUTPUT = "audio_output_tokens"


def account_inference(
    ident: str,
    model: Optional[str],
    usage: Optional[Usage],
    *,
    prices: PriceBook,
    created_at: Optional[int],
    provider: str = "openai",
    terms: Optional[PriceTerms] = None,
    conversation_id: str = "",
) -> RunAccount:
    """``usage``: reported, else an estimate (``source="estimated"``); None: nothing known."""
    account = RunAccount(run_id=ident, thread_id=conversation_id, model=model, priced_model=None, provider=provider)
    if usage is None:
        account.unpriced_reasons.append("no usage reported and none could be estimated")
        return account
    account.usage = usage
    account.input_tokens, account.output_tokens = usage.input_tokens, usage.output_tokens
    account.usage_source = usage.source
    account.partial, account.degraded = usage.partial, usage.degraded
    account.usage_scope = "run"  # a response is one inference: its own leaf
    cost = prices.token_cost(model, usage, created_at, provider, terms)
    if isinstance(cost, Unpriced):
        account.unpriced_reasons.append(cost.reason)
        account.unpriced_input_tokens, account.unpriced_output_tokens = usage.input_tokens, usage.output_tokens
        account.run_leaf = RunLeaf(usage, None, None, cost.reason)
        return account
    account.priced_model = cost.model
    account.price_effective_from = cost.effective_from
    account.price_modifiers = cost.modifiers
    account.cost_usd[COST_INPUT] = cost.input_usd
    account.cost_usd[COST_OUTPUT] = cost.output_usd
    if usage.cached_input_tokens:
        account.cost_usd[COST_CACHED_INPUT] = cost.cached_input_usd
    if usage.cache_write_tokens:
        account.cost_usd[COST_CACHE_WRITE] = cost.cache_write_usd
    audio = ((COST_AUDIO_INPUT, cost.audio_input_usd, usage.audio_input_tokens),
             (COST_AUDIO_OUTPUT, cost.audio_output_usd, usage.audio_output_tokens))
    parts = {kind: value for kind, value, tokens in audio if tokens}
    account.cost_usd.update(parts)
    account.run_leaf = RunLeaf(usage, cost.input_usd, cost.output_usd,
                               cached_input_usd=account.cost_usd.get(COST_CACHED_INPUT),
                               cache_write_usd=account.cost_usd.get(COST_CACHE_WRITE), parts_usd=parts)
    return account
