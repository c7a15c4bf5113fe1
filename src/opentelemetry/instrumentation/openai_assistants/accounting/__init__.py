"""Accounting core: from what is known about a run to its token usage and cost.

Plain functions over the records of ``model.py``; nothing here imports ``openai``, so the same
core serves any front end (the Assistants API, compatible servers, replayed recordings).

- ``tokens``: tiktoken counters per model, loaded lazily, with an approximate fallback.
- ``estimator``: per-step usage estimated from the run's context when the API reported none.
- ``history``: the thread's earlier messages, read incrementally, with cached token counts.
- ``pricing``: dated token and Code Interpreter session prices (genai-prices + own data files).
- ``rates``: per-token rates resolved once per model, day and terms (bounded cache), and their arithmetic.
- ``genai_rates``: those rates read from genai-prices' data; ``modifiers``: tier, window, long-context,
  regional and prompt-cache rules from ``prices/token_modifiers.json`` and overrides.
- ``dated``: which entry of a dated table (prices, modifiers, fees, container rules) is in force on a day.
- ``sessions``: which Code Interpreter call opened a billed session (memory or Redis store).
- ``account``: the run's account: per-step usage and cost, per-call sessions, run roll-ups, and a
  slot for tool-call charges besides tokens (``ItemCharge``).
- ``inference``: the account of one inference billed on its own (a Responses API response).
- ``containers``: the container billing rule of a date (per container, session or minute) and what a container owes.
- ``container_claims`` / ``container_ledger``: idempotent container claims; charges as they become known.
- ``fees``: hosted tool per-call fees (web search, file search, image generation).
"""
