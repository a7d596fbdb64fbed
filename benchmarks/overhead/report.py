"""Markdown tables, goal verdicts and the latency plot of the overhead section."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import msgspec

from benchmarks.common import table
from benchmarks.overhead.load import WrkResult
from benchmarks.overhead.profiling import Hotspot
from benchmarks.overhead.timing import TimingSample

#: Issue 12's targets at concurrency 16: CPU per pass-through request, added p50, throughput.
GOAL_CPU_MS, GOAL_P50_MS, GOAL_THROUGHPUT, GOAL_AT = 1.5, 15.0, 0.35, 16
#: `workers = 2` (Redis state) against one worker, requests/s.
GOAL_WORKERS_RATIO = 1.7
#: Frames worth listing by inclusive time: ours, the HTTP client, parsing, logging, images.
_OURS = ("gateway/", "providers/", "httpx/_client", "connection_pool", "h11_impl", "multipart",
         "structlog", "ledger", "PIL/", "to_thread", "run_in_executor")


class Pair(msgspec.Struct, frozen=True):
    """The same load sent directly to the upstream and through the gateway."""

    concurrency: int
    direct: WrkResult
    gateway: WrkResult
    upstream_cpu_direct_ms: float
    """Upstream CPU per request when called directly."""
    upstream_cpu_via_gateway_ms: float
    """Upstream CPU per request when called by the gateway."""
    gateway_cpu_ms: float
    """Gateway CPU (all threads) per request."""

    def added_ms(self, attribute: str) -> float:
        """Gateway minus direct latency for `p50_us`, `p90_us` or `p99_us`, in ms."""
        return (getattr(self.gateway, attribute) - getattr(self.direct, attribute)) / 1000

    @property
    def throughput_ratio(self) -> float:
        """Gateway req/s as a share of direct req/s."""
        return self.gateway.rps / self.direct.rps if self.direct.rps else 0.0


def results_table(pairs: Sequence[Pair]) -> str:
    """One row per concurrency and target, plus the difference row."""
    rows: list[list[object]] = []
    for pair in pairs:
        rows.append([pair.concurrency, "direct", f"{pair.direct.rps:.0f}",
                     pair.direct.p50_us / 1000, pair.direct.p90_us / 1000,
                     pair.direct.p99_us / 1000, pair.direct.errors,
                     f"upstream {pair.upstream_cpu_direct_ms:.2f}"])
        rows.append([pair.concurrency, "gateway", f"{pair.gateway.rps:.0f}",
                     pair.gateway.p50_us / 1000, pair.gateway.p90_us / 1000,
                     pair.gateway.p99_us / 1000, pair.gateway.errors,
                     f"gateway {pair.gateway_cpu_ms:.2f} + upstream "
                     f"{pair.upstream_cpu_via_gateway_ms:.2f}"])
        rows.append([pair.concurrency, "**added**", f"{pair.throughput_ratio:.0%} of direct",
                     pair.added_ms("p50_us"), pair.added_ms("p90_us"), pair.added_ms("p99_us"),
                     "", ""])
    return table(["conc.", "target", "req/s", "p50 ms", "p90 ms", "p99 ms", "errors",
                  "CPU ms / request"], rows)


class Scaling(msgspec.Struct, frozen=True):
    """One worker against `workers = 2` with Redis state, same load (concurrency 16)."""

    one: WrkResult
    two: WrkResult
    one_cpu_ms: float
    two_cpu_ms: float
    """Gateway CPU per request, every worker process included."""

    @property
    def ratio(self) -> float:
        """Two workers' req/s over one worker's."""
        return self.two.rps / self.one.rps if self.one.rps else 0.0


def scaling_table(scaling: Scaling) -> str:
    """One row per worker count."""
    rows = [
        ["1 (memory state)", f"{scaling.one.rps:.0f}", scaling.one.p50_us / 1000,
         scaling.one.p99_us / 1000, scaling.one.errors, f"{scaling.one_cpu_ms:.2f}"],
        ["2 (Redis state)", f"{scaling.two.rps:.0f}", scaling.two.p50_us / 1000,
         scaling.two.p99_us / 1000, scaling.two.errors, f"{scaling.two_cpu_ms:.2f}"],
    ]
    return table(["workers", "req/s", "p50 ms", "p99 ms", "errors", "gateway CPU ms / request"],
                 rows)


def goals(pairs: Sequence[Pair], scaling: Scaling | None = None) -> str:
    """Verdicts for issue 12's targets at concurrency 16."""
    pair = next((p for p in pairs if p.concurrency == GOAL_AT), None)
    if pair is None:
        return "Goals not checked: no run at concurrency 16."
    checks = [
        (f"gateway CPU per request ≤ {GOAL_CPU_MS:g} ms", f"{pair.gateway_cpu_ms:.2f} ms",
         pair.gateway_cpu_ms <= GOAL_CPU_MS),
        (f"gateway req/s ≥ {GOAL_THROUGHPUT:.0%} of direct", f"{pair.throughput_ratio:.0%}",
         pair.throughput_ratio >= GOAL_THROUGHPUT),
        (f"added p50 ≤ {GOAL_P50_MS:g} ms", f"{pair.added_ms('p50_us'):.2f} ms",
         pair.added_ms("p50_us") <= GOAL_P50_MS),
    ]
    if scaling is not None:
        checks.append((f"workers = 2 (Redis) ≥ {GOAL_WORKERS_RATIO:g}× one worker's req/s",
                       f"{scaling.ratio:.2f}×", scaling.ratio >= GOAL_WORKERS_RATIO))
    return table(["goal (concurrency 16)", "measured", "met"],
                 [[goal, value, "yes" if ok else "**no**"] for goal, value, ok in checks])


def timing_check(sample: TimingSample, pairs: Sequence[Pair]) -> str:
    """Compare the gateway's own `Server-Timing` overhead with the measured difference at c=1."""
    single = next((p for p in pairs if p.concurrency == 1), None)
    measured = single.added_ms("p50_us") if single else float("nan")
    share = sample.overhead_p50 / measured if measured > 0 else float("nan")
    return "\n".join([
        f"{sample.count} sequential requests after the load (httpx, one at a time): "
        f"`Server-Timing` overhead p50 **{sample.overhead_p50:.2f} ms** (p90 "
        f"{sample.overhead_p90:.2f}), total p50 {sample.total_p50:.2f} ms, provider p50 "
        f"{sample.provider_p50:.2f} ms; client wall time p50 {sample.wall_p50:.2f} ms; "
        f"`X-Emulated` seen: {', '.join(sample.emulated) or 'none (pass-through)'}.",
        "",
        f"Measured added p50 at concurrency 1 (wrk): **{measured:.2f} ms**; the header accounts "
        f"for {share:.0%} of it. The header starts when the request reaches the app (after the "
        "HTTP server parsed it) and counts the upstream call, including the gateway's own HTTP "
        "client work, as `provider`; the extra loopback hop and the client time are not in it.",
    ])


def hotspot_table(own: Sequence[Hotspot], inclusive: Sequence[Hotspot], busy: int) -> str:
    """Top frames by self time and selected inclusive frames from the py-spy samples."""
    rows = [[f"{h.share:.1%}", f"`{h.frame}`"] for h in own]
    ours = [h for h in inclusive
            if any(k in h.frame for k in _OURS) and "gateway/cli.py" not in h.frame]
    return "\n\n".join([
        f"{busy} busy samples (all threads; idle waits left out).",
        "Self time (where samples ended):\n\n" + table(["share", "frame"], rows),
        "Inclusive time of gateway, client and image frames:\n\n"
        + table(["share", "frame"], [[f"{h.share:.1%}", f"`{h.frame}`"] for h in ours[:20]]),
    ])


def plot(path: Path, pairs: Sequence[Pair]) -> Path:
    """One panel per concurrency: p50/p90/p99 latency bars, direct vs gateway (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(pairs), figsize=(4 * len(pairs), 3.8), dpi=110,
                                squeeze=False)
    labels = ("p50", "p90", "p99")
    for axis, pair in zip(axes[0], pairs, strict=True):
        for offset, (name, run) in enumerate((("direct", pair.direct),
                                              ("gateway", pair.gateway))):
            values = [run.p50_us / 1000, run.p90_us / 1000, run.p99_us / 1000]
            axis.bar([i + (offset - 0.5) * 0.38 for i in range(3)], values, width=0.38,
                     label=name)
        axis.set_xticks(range(3), labels)
        axis.set_yscale("log")
        axis.set_title(f"concurrency {pair.concurrency}")
        axis.set_ylabel("latency (ms)")
        axis.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize="small")
    figure.suptitle("Latency: direct to the instant upstream vs through the gateway")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
