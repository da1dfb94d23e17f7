"""Writes notebooks/*.ipynb from the cell sources below (so the notebooks are
reviewed as code). Run: .venv/bin/python scripts/make_notebooks.py"""
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from pathlib import Path

SETUP = '''import os, pathlib
import polars as pl
import matplotlib
matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
import matplotlib.pyplot as plt

def latest_run():
    runs = sorted(pathlib.Path("tracesplit-runs").glob("*/requests.parquet"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise SystemExit("set TRACESPLIT_RUN to a run directory (or run `tracesplit demo` first)")
    return runs[-1].parent

RUN = pathlib.Path(os.environ.get("TRACESPLIT_RUN") or latest_run())
print("run:", RUN)'''

NOTEBOOKS = {
    "latency_distributions.ipynb": [
        "# Latency distributions per scenario\n\nClient-observed latency from `requests.parquet` (one row per HTTP request): nearest-rank percentiles as tracesplit computes them, and each scenario's distribution on a log axis.",
        SETUP,
        '''requests = pl.read_parquet(RUN / "requests.parquet").filter(pl.col("expected"))
ms = (pl.col("duration_ns") / 1e6)
def nearest_rank(p):
    # The value at rank ceil(p/100 * n), as tracesplit and the seed tooling define it.
    return ms.sort().gather((pl.len() * p / 100).ceil().cast(pl.Int64).clip(1) - 1).first()
table = (requests.group_by("scenario", maintain_order=True)
         .agg(pl.len().alias("n"), nearest_rank(50).alias("p50_ms"), nearest_rank(95).alias("p95_ms"),
              nearest_rank(99).alias("p99_ms"), ms.max().alias("max_ms"))
         .sort("p95_ms", descending=True))
print(table)''',
        '''fig, ax = plt.subplots(figsize=(9, 0.35 * table.height + 1.5))
names = table["scenario"].to_list()
data = [requests.filter(pl.col("scenario") == s)["duration_ns"].to_numpy() / 1e6 for s in names]
ax.boxplot(data, vert=False, tick_labels=names, whis=(5, 95))
ax.set_xscale("log"); ax.set_xlabel("ms (log)"); ax.set_title("latency per scenario (whiskers P5..P95)")
fig.tight_layout()
assert table.height > 0, "no requests with an expected status"''',
    ],
    "split_over_time.ipynb": [
        "# The split over time within a run\n\n`split.parquet` (written by `tracesplit analyze`) has every request's network, queue, handler, cascade and other-DB time. Averaged per second, it shows whether a component drifts during the run (a cache warming, a table growing).",
        SETUP,
        '''split = pl.read_parquet(RUN / "split.parquet").filter(pl.col("expected") & pl.col("matched"))
t0 = split["start_unix_nano"].min()
parts = ["network_ns", "queue_ns", "handler_ns", "cascade_ns", "db_other_ns"]
per_second = (split.with_columns(((pl.col("start_unix_nano") - t0) // 1_000_000_000).alias("second"))
              .group_by("scenario", "second").agg([(pl.col(c).mean() / 1e6).alias(c.replace("_ns", "_ms")) for c in parts])
              .sort("scenario", "second"))
# Every matched request splits exactly: total = network + queue + handler + cascade + db other.
assert (split["total_ns"] == split.select(pl.sum_horizontal(parts)).to_series()).all()
print(per_second.head(20))''',
        '''scenario = os.environ.get("TRACESPLIT_SCENARIO") or split.group_by("scenario").agg(pl.col("cascade_ns").mean()).sort("cascade_ns")["scenario"][-1]
one = per_second.filter(pl.col("scenario") == scenario)
fig, ax = plt.subplots(figsize=(9, 3.5))
cols = [c.replace("_ns", "_ms") for c in parts]
ax.stackplot(one["second"].to_numpy(), *[one[c].to_numpy() for c in cols], labels=cols)
ax.set_xlabel("second of the run"); ax.set_ylabel("mean ms"); ax.set_title(scenario); ax.legend(loc="upper left")
fig.tight_layout()
print(scenario, one.height, "seconds")''',
    ],
    "outlier_drilldown.ipynb": [
        "# Outlier drill-down\n\nThe slowest request of a scenario and its span tree from the span store: start offset (from the server span) and duration of every span, DB statements included. Set `TRACESPLIT_TRACE` to look at another trace.",
        SETUP,
        '''split = pl.read_parquet(RUN / "split.parquet").filter(pl.col("matched"))
trace = os.environ.get("TRACESPLIT_TRACE") or split.sort("total_ns")["trace_id"][-1]
row = split.filter(pl.col("trace_id") == trace).row(0, named=True)
print(f"trace {trace}  {row['scenario']}  total {row['total_ns']/1e6:.2f} ms = network {row['network_ns']/1e6:.2f} "
      f"+ queue {row['queue_ns']/1e6:.2f} + handler {row['handler_ns']/1e6:.2f} + cascade {row['cascade_ns']/1e6:.2f} + db other {row['db_other_ns']/1e6:.2f}")''',
        '''# The span store keeps ids as bytes (segments written by tracesplit 0.1.0: hex text); shown here as hex.
def spans_of(trace):
    frames = []
    for path in sorted((RUN / "spans").glob("*.parquet")):
        f = pl.scan_parquet(path)
        as_bytes = f.collect_schema()["trace_id"] == pl.Binary
        f = f.filter(pl.col("trace_id") == (bytes.fromhex(trace) if as_bytes else trace))
        if as_bytes:
            f = f.with_columns(pl.col(c).bin.encode("hex") for c in ("span_id", "parent_span_id"))
        frames.append(f.select("span_id", "parent_span_id", "name", "kind", "start_unix_nano", "end_unix_nano", "db_statement"))
    return pl.concat(frames).collect()
spans = spans_of(trace)
assert spans.height > 0, f"no span of trace {trace} in {RUN / 'spans'}"
children = {}
for s in spans.sort("start_unix_nano").iter_rows(named=True):
    children.setdefault(s["parent_span_id"], []).append(s)
ids = set(spans["span_id"])
roots = [s for p, kids in children.items() if p not in ids for s in kids]
t0 = min(s["start_unix_nano"] for s in roots)
def show(s, depth=0):
    text = f"{(s['start_unix_nano'] - t0)/1e6:9.2f} {(s['end_unix_nano'] - s['start_unix_nano'])/1e6:9.2f}  {'  ' * depth}{s['kind']:<8} {s['name']}"
    if s["db_statement"]:
        text += "  — " + " ".join(s["db_statement"].split())[:100]
    print(text)
    for c in children.get(s["span_id"], []):
        show(c, depth + 1)
print(" start ms    dur ms  span")
for r in roots:
    show(r)''',
    ],
    "compare_runs.ipynb": [
        "# Comparing two runs\n\nP95 per scenario in a base and a head run, and how each split component moved. `tracesplit compare BASE HEAD` adds the significance test; this is the place to look further. Set `TRACESPLIT_BASE` and `TRACESPLIT_HEAD` (both default to the run above).",
        SETUP,
        '''BASE = pathlib.Path(os.environ.get("TRACESPLIT_BASE") or RUN)
HEAD = pathlib.Path(os.environ.get("TRACESPLIT_HEAD") or RUN)
def p95s(run):
    s = pl.read_parquet(run / "split.parquet").filter(pl.col("expected"))
    rank = (pl.len() * 0.95).ceil().cast(pl.Int64).clip(1) - 1
    return s.group_by("scenario").agg(
        (pl.col("total_ns").sort().gather(rank).first() / 1e6).alias("p95_ms"),
        *[(pl.col(c).mean() / 1e6).alias(c.replace("_ns", "_mean_ms")) for c in ["network_ns", "queue_ns", "handler_ns", "cascade_ns", "db_other_ns"]])
both = p95s(BASE).join(p95s(HEAD), on="scenario", suffix="_head")
both = both.with_columns(((pl.col("p95_ms_head") - pl.col("p95_ms")) / pl.col("p95_ms") * 100).alias("p95_change_pct")).sort("p95_change_pct", descending=True)
print(both.select("scenario", "p95_ms", "p95_ms_head", "p95_change_pct", "cascade_mean_ms", "cascade_mean_ms_head"))
assert both.height > 0, "no scenario in both runs"''',
        '''fig, ax = plt.subplots(figsize=(9, 0.3 * both.height + 1.5))
ax.barh(both["scenario"].to_list(), both["p95_change_pct"].to_numpy())
ax.axvline(10, color="red", linestyle="--", label="--max-regression 10 %")
ax.set_xlabel("P95 change, %"); ax.legend(); fig.tight_layout()''',
    ],
}

out = Path(__file__).resolve().parent.parent / "notebooks"
out.mkdir(exist_ok=True)
for name, cells in NOTEBOOKS.items():
    nb = new_notebook(cells=[new_markdown_cell(cells[0])] + [new_code_cell(c) for c in cells[1:]])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, out / name)
    print("wrote", out / name)
