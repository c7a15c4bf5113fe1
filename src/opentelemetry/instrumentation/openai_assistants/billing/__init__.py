"""The billing exporter: OpenAI's billed figures (Costs and Usage API, admin key) as OTel metrics.

A separate long-running process (``openai-billing-exporter``): the admin key is organization-wide
and never belongs in the instrumented app, which imports nothing from here. Every interval it
re-reads a trailing window of UTC days and exports each day's latest figures as gauges labelled
with the day, so a delayed or revised bucket replaces the earlier read instead of adding to it;
Prometheus compares them per day and cost kind with the instrumentor's measured spend.
"""
