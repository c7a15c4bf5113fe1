"""The metric instruments: names, units, descriptions and bucket advice, created once per meter."""

from __future__ import annotations

from opentelemetry.metrics import Counter, Histogram, Meter, UpDownCounter

from . import semconv as sc


class Instruments:
    def __init__(self, meter: Meter) -> None:
        self.token_usage: Histogram = meter.create_histogram(
            sc.METRIC_TOKEN_USAGE, unit="{token}", description="Tokens used per run step (one inference)",
            explicit_bucket_boundaries_advisory=list(sc.TOKEN_BUCKETS),
        )
        self.duration: Histogram = meter.create_histogram(
            sc.METRIC_OPERATION_DURATION, unit="s",
            description="Duration of runs (invoke_agent), run steps (chat) and tool calls (execute_tool)",
            explicit_bucket_boundaries_advisory=list(sc.DURATION_BUCKETS),
        )
        self.cost: Counter = meter.create_counter(
            sc.METRIC_COST, unit="USD", description="Spend by cost kind, at the price in force on the run's date",
        )
        self.run_cost: Histogram = meter.create_histogram(
            sc.METRIC_RUN_COST, unit="USD", description="Cost of one run, when every part of it was priced",
            explicit_bucket_boundaries_advisory=list(sc.COST_BUCKETS),
        )
        self.sessions: Counter = meter.create_counter(
            sc.METRIC_SESSIONS, unit="{session}", description="Code Interpreter sessions opened (inferred)",
        )
        self.runs: Counter = meter.create_counter(
            sc.METRIC_RUNS, unit="{run}", description="Runs ended, by final status",
        )
        self.tool_calls: Counter = meter.create_counter(
            sc.METRIC_TOOL_CALLS, unit="{call}", description="Tool calls, by tool type and name",
        )
        self.usage_steps: Counter = meter.create_counter(
            sc.METRIC_USAGE_STEPS, unit="{inference}",
            description="Inferences (run steps, responses) by where their tokens come from",
        )
        self.estimate_error: Histogram = meter.create_histogram(
            sc.METRIC_ESTIMATE_ERROR, unit="1",
            description="Relative error of the token estimate where the API also reported usage",
            explicit_bucket_boundaries_advisory=[0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0],
        )
        self.unpriced_tokens: Counter = meter.create_counter(
            sc.METRIC_UNPRICED_TOKENS, unit="{token}", description="Tokens that could not be priced",
        )
        self.unpriced_runs: Counter = meter.create_counter(
            sc.METRIC_UNPRICED_RUNS, unit="{run}", description="Runs with at least one part that could not be priced",
        )
        self.fetches: Counter = meter.create_counter(
            sc.METRIC_FETCHES, unit="{request}", description="The instrumentor's own background API reads",
        )
        self.containers: Counter = meter.create_counter(
            sc.METRIC_CONTAINERS, unit="{container}",
            description="Hosted-tool containers opened (first billed), by memory tier, billing rule and observed or "
                        "inferred life",
        )
        self.containers_live: UpDownCounter = meter.create_up_down_counter(
            sc.METRIC_CONTAINERS_LIVE, unit="{container}",
            description="Hosted-tool containers opened and not yet settled (deleted or expired)",
        )
        self.auto_containers_without_call: Counter = meter.create_counter(
            sc.METRIC_AUTO_CONTAINERS_WITHOUT_CALL, unit="{response}",
            description="Responses that enabled Code Interpreter in auto mode and named no container",
        )
        self.session_evictions: Counter = meter.create_counter(
            sc.METRIC_SESSION_EVICTIONS, unit="{thread}",
            description="Threads dropped from the in-memory session store while their session could still get "
                        "calls (a later call may be billed a second session)",
        )
