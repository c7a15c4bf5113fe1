"""Pictures of the dashboard's main panels, from a real run: the steady demo with a spike, the billing
exporter reading the fake API's bill, both scraped by a real Prometheus evaluating our alert rules.

    python scripts/dashboard_pictures.py [--out docs/images] [--spike-at 60] [--after-firing 60]

Takes about eight minutes: the spend-spike alert fires five minutes after the spike is seen, as in
production. The panels are plotted with matplotlib over Prometheus' HTTP API, with the dashboard's
own queries (``docker/grafana/dashboards/assistants.json``), one PNG per panel plus ``dashboard.png``
(all four). Needs ``prometheus`` on PATH and ``pip install -e '.[pictures]' -e ./openai-fake-api``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "docker" / "prometheus" / "rules" / "assistants.rules.yml"
ADMIN_KEY = "sk-admin-fake-0000"  # the fake API's admin key (openai_fake_api.billing.ADMIN_KEY)
SPEND = "openai_cost_spend_USD_total"
RUN_SPEND = "openai_cost_run_spend_USD"
STEP_S = 5
ALERT = "AssistantsSpendSpike"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str, params: dict[str, Any] | None = None) -> Any:
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def wait_until(probe: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            found = probe()
            if found:
                return found
        except OSError:
            pass
        time.sleep(2)
    raise SystemExit(f"timed out after {timeout_s:.0f} s waiting for {what}")


@contextmanager
def process(args: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


class Prometheus:
    def __init__(self, base: str) -> None:
        self.base = base

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(get_json(self.base + "/api/v1/query", {"query": expr})["data"]["result"])

    def range(self, expr: str, start: float, end: float) -> list[dict[str, Any]]:
        body = get_json(self.base + "/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": STEP_S})
        return list(body["data"]["result"])


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}


def run(out_dir: Path, spike_at: float, after_firing: float, interval: float) -> None:
    prometheus_bin = shutil.which("prometheus")
    if prometheus_bin is None:
        raise SystemExit("prometheus not found: apt-get install prometheus")
    tmp = Path(tempfile.mkdtemp(prefix="dashboard-pictures-"))
    demo_port, fake_port, billing_port, prom_port = (free_port() for _ in range(4))
    config = {
        "global": {"scrape_interval": f"{STEP_S}s", "evaluation_interval": f"{STEP_S}s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {"job_name": "demo", "static_configs": [{"targets": [f"127.0.0.1:{demo_port}"]}]},
            {"job_name": "billing", "static_configs": [{"targets": [f"127.0.0.1:{billing_port}"]}]},
        ],
    }
    (tmp / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    billing_env = {**_clean_env(), "OPENAI_BASE_URL": f"http://127.0.0.1:{fake_port}/v1", "OPENAI_ADMIN_KEY": ADMIN_KEY,
                   "OTEL_METRICS_EXPORTER": "prometheus", "OTEL_EXPORTER_PROMETHEUS_PORT": str(billing_port)}
    exporter = Path(sys.executable).parent / "openai-billing-exporter"
    with ExitStack() as stack:
        stack.enter_context(process(
            [prometheus_bin, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{prom_port}"], tmp / "prometheus.log"))
        stack.enter_context(process(
            [sys.executable, str(ROOT / "examples" / "demo.py"), "--steady", "--interval", str(interval),
             "--spike-at", str(spike_at), "--prometheus-port", str(demo_port), "--fake-port", str(fake_port)],
            tmp / "demo.log", env=_clean_env()))
        prometheus = Prometheus(f"http://127.0.0.1:{prom_port}")
        wait_until(lambda: prometheus.query(f"sum({SPEND})"), 120, "the demo's first scrape")
        start = time.time() - 30
        stack.enter_context(process([str(exporter), "--interval", "20"], tmp / "billing.log", env=billing_env))
        print(f"demo running (logs in {tmp}); waiting for {ALERT} to fire (about {spike_at / 60 + 6:.0f} min)",
              flush=True)
        wait_until(lambda: prometheus.query(f'ALERTS{{alertname="{ALERT}", alertstate="firing"}}'), 15 * 60,
                   f"{ALERT} to fire")
        print(f"{ALERT} firing; {after_firing:.0f} s more of data", flush=True)
        time.sleep(after_firing)
        plot(prometheus, start, time.time(), out_dir)


# --- the panels ---------------------------------------------------------------------------------


def _series(result: list[dict[str, Any]]) -> Iterator[tuple[dict[str, str], list[datetime], list[float]]]:
    for item in result:
        times = [datetime.fromtimestamp(float(t), UTC) for t, _ in item["values"]]
        values = [float(v) for _, v in item["values"]]
        yield item["metric"], times, values


def panel_spend(ax: Any, prometheus: Prometheus, start: float, end: float) -> None:
    expr = f"sum by (openai_api_type, openai_cost_kind) (rate({SPEND}[2m])) * 3600"  # two cycles of the demo
    for labels, times, values in sorted(_series(prometheus.range(expr, start, end)),
                                        key=lambda s: -max(s[2] or [0])):
        ax.plot(times, values, label=f"{labels.get('openai_api_type')} / {labels.get('openai_cost_kind')}")
    ax.set_title("Spend by API and cost kind (USD/h)")
    ax.legend(fontsize=7, loc="upper left", ncol=2)


def panel_cost_per_run(ax: Any, prometheus: Prometheus, start: float, end: float) -> None:
    expr = (f"sum by (openai_api_type) (rate({RUN_SPEND}_sum[2m])) "
            f"/ sum by (openai_api_type) (rate({RUN_SPEND}_count[2m]))")
    names = {"assistants": "mean per Assistants run", "responses": "mean per response"}
    for labels, times, values in _series(prometheus.range(expr, start, end)):
        ax.plot(times, values, label=names.get(labels.get("openai_api_type", ""), "mean"))
    p95 = f"histogram_quantile(0.95, sum by (le) (rate({RUN_SPEND}_bucket[2m])))"
    for _, times, values in _series(prometheus.range(p95, start, end)):
        ax.plot(times, values, linestyle="--", label="p95, runs and responses")
    ax.set_title("Cost per run or response (USD)")
    ax.set_yscale("log")
    ax.legend(fontsize=7, loc="upper left")


def panel_billed_vs_measured(ax: Any, prometheus: Prometheus) -> None:
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    billed = {r["metric"].get("openai_cost_kind", "?"): float(r["value"][1]) for r in prometheus.query(
        f'sum by (openai_cost_kind) (openai_cost_billed_spend_USD{{openai_cost_billing_day="{today}"}})')}
    measured = {r["metric"].get("openai_cost_kind", "?"): float(r["value"][1]) for r in prometheus.query(
        f'sum by (openai_cost_kind) ({SPEND}{{openai_api_type="assistants"}})')}
    kinds = sorted(set(billed) | set(measured), key=lambda k: -max(billed.get(k, 0), measured.get(k, 0)))
    x = range(len(kinds))
    ax.bar([i - 0.2 for i in x], [billed.get(k, 0) for k in kinds], width=0.4, label="billed (admin API, today)")
    ax.bar([i + 0.2 for i in x], [measured.get(k, 0) for k in kinds], width=0.4, label="measured (instrumentor)")
    ax.set_xticks(list(x), [k.replace("_", " ") for k in kinds], fontsize=7)
    ax.set_title("Billed vs measured, Assistants API, by kind (USD)")
    ax.legend(fontsize=7)


def panel_spike(ax: Any, prometheus: Prometheus, start: float, end: float) -> None:
    rate = "assistants:spend_usd_per_hour:rate5m"
    for labels, times, values in _series(prometheus.range(rate, start, end)):
        name = labels.get("gen_ai_agent_name") or "Responses API traffic"
        ax.plot(times, values, label=name, linewidth=2 if name == "Runaway agent" else 1)
    ax.axhline(5, color="grey", linestyle=":", label="alert floor, 5 USD/h")
    alerts = f'max by (alertstate) (ALERTS{{alertname="{ALERT}"}})'
    colours = {"pending": "#f5c542", "firing": "#e0463e"}
    for labels, times, _ in _series(prometheus.range(alerts, start, end)):
        state = labels.get("alertstate", "")
        ax.fill_between(times, 0, 1, transform=ax.get_xaxis_transform(), alpha=0.18,
                        color=colours.get(state, "grey"), label=f"{ALERT} {state}", step="mid")
    ax.set_title("Spend rate by caller (5 min, USD/h) and the spike alert")
    ax.legend(fontsize=7, loc="upper left")


def plot(prometheus: Prometheus, start: float, end: float, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    panels = {
        "spend-by-api-and-kind": lambda ax: panel_spend(ax, prometheus, start, end),
        "cost-per-run": lambda ax: panel_cost_per_run(ax, prometheus, start, end),
        "billed-vs-measured": lambda ax: panel_billed_vs_measured(ax, prometheus),
        "spike-alert": lambda ax: panel_spike(ax, prometheus, start, end),
    }

    def style(ax: Any) -> None:
        ax.grid(alpha=0.3)
        if ax.get_title() and "Billed" not in ax.get_title():
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
            ax.set_xlabel("time (UTC)", fontsize=8)

    for name, draw in panels.items():
        fig, ax = plt.subplots(figsize=(8, 4), dpi=110)
        draw(ax)
        style(ax)
        fig.tight_layout()
        fig.savefig(out_dir / f"{name}.png")
        plt.close(fig)
    fig, axes = plt.subplots(2, 2, figsize=(14, 8), dpi=100)
    for ax, draw in zip(axes.flat, panels.values(), strict=True):
        draw(ax)
        style(ax)
    fig.suptitle("The steady demo with a runaway agent from its second minute, scraped by Prometheus every 5 s")
    fig.tight_layout()
    fig.savefig(out_dir / "dashboard.png")
    plt.close(fig)
    print(f"wrote {', '.join([*panels, 'dashboard'])} (.png) to {out_dir}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--spike-at", type=float, default=60.0, help="seconds into the demo the runaway starts")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between the demo's cycles")
    parser.add_argument("--after-firing", type=float, default=60.0, help="seconds of data after the alert fires")
    args = parser.parse_args()
    run(args.out, args.spike_at, args.after_firing, args.interval)


if __name__ == "__main__":
    main()
