"""Where a model's time goes, layer by layer, pionnx against onnxruntime (`python -m ci.bench.run --nodes`).

    python -m ci.bench.run --nodes --models resnet50              # 1 and 2 threads
    python -m ci.bench.run --nodes --models mobilenetv2 --threads 1 --nodes-top 25

The model bench gives one time per model; this table says which layers make the difference. Both
runtimes run the model with their profilers on (pionnx writes onnxruntime's profile format), one run
each in turn (after --settle-ms at more than one thread, as the model bench does), and each node's
time is the median of its --runs timed runs after --warmup. The two graphs are not the same after
optimization (onnxruntime's NCHWc convolutions and fusions, pionnx's FusedConv, Winograd and fused
attention), so nodes are matched by what they compute, not by name or operator: the output's shape and
the first two inputs' shapes (a Conv, the FusedConv it became and onnxruntime's NCHWc Conv give the same
three; a group left on one side only is matched to the one other-side group with its output and first
input, where there is exactly one: a weight passed differently). Each row sums one such group in each
runtime; a group one runtime has and the other has not (onnxruntime's ReorderInput/ReorderOutput, a node
fused in one graph only, a blocked shape padded to 8 channels) shows 0 on that side.

Read a row as where the time goes, not as what a change would gain: onnxruntime keeps NCHWc data blocked
from one convolution to the next, so its convolutions read inputs that pionnx's reorder or pack, and a
pionnx layer can look twice as slow in place and run as fast alone. Confirm a change with the model bench
(or two builds timed in one process) before believing a row.

Writes build/bench-nodes.json (or --json): the machine facts and, per model and thread count, the wall
time of a run, the node sums and every group's two times.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict
from pathlib import Path

KERNEL_SUFFIX = "_kernel_time"


def group_key(event: dict) -> tuple[str, ...]:
    """What a profiled node computes: its first output's and first two inputs' element types and shapes."""
    args = event.get("args", {})

    def shapes(key: str, n: int) -> list[str]:
        out = []
        for arg in args.get(key, [])[:n]:
            ((elem, dims),) = arg.items()
            out.append(f"{elem}[{','.join(str(d) for d in dims)}]")
        return out

    return tuple(shapes("output_type_shape", 1) + shapes("input_type_shape", 2))


def node_medians(events: list[dict], warmup: int) -> dict[str, dict]:
    """Per node of a profile (onnxruntime's JSON events): its operator, group key and median time in
    microseconds over the runs after the first `warmup` (a node's events come in run order)."""
    per_node: dict[str, dict] = {}
    for e in events:
        if e.get("cat") != "Node" or not str(e.get("name", "")).endswith(KERNEL_SUFFIX):
            continue
        node = per_node.setdefault(
            e["name"], {"op": e.get("args", {}).get("op_name", "?"), "key": group_key(e), "durations": []}
        )
        node["durations"].append(float(e["dur"]))
    for node in per_node.values():
        timed = node.pop("durations")[warmup:]
        node["us"] = statistics.median(timed) if timed else 0.0
    return per_node


def empty_group() -> dict:
    return {"us": 0.0, "nodes": 0, "ops": set()}


def group(nodes: dict[str, dict]) -> dict[tuple[str, ...], dict]:
    """Sums the nodes of one runtime by group key: total microseconds, node count, operators."""
    groups: dict[tuple[str, ...], dict] = defaultdict(empty_group)
    for node in nodes.values():
        g = groups[node["key"]]
        g["us"] += node["us"]
        g["nodes"] += 1
        g["ops"].add(node["op"])
    return dict(groups)


def compare(ours: dict[str, dict], theirs: dict[str, dict]) -> list[dict]:
    """One row per group either runtime has, pionnx's lead (negative) or lag in microseconds first-worst."""
    a, b = group(ours), group(theirs)
    # A group on one side only whose output and first input match exactly one such group on the other side
    # is the same layer with its weights passed differently (onnxruntime's Gemm lists the bias, not the
    # prepacked weight): one row, under pionnx's key.
    only_a, only_b = [k for k in a if k not in b], [k for k in b if k not in a]
    for ka in only_a:
        match = [kb for kb in only_b if kb[:2] == ka[:2]]
        if len(match) == 1 and sum(k[:2] == ka[:2] for k in only_a) == 1:
            b[ka] = b.pop(match[0])
            only_b.remove(match[0])
    rows = []
    for key in set(a) | set(b):
        p = a.get(key) or empty_group()
        o = b.get(key) or empty_group()
        rows.append(
            {
                "output": key[0] if key else "",
                "inputs": list(key[1:]),
                "pionnx_us": p["us"],
                "onnxruntime_us": o["us"],
                "diff_us": p["us"] - o["us"],
                "pionnx_nodes": p["nodes"],
                "onnxruntime_nodes": o["nodes"],
                "pionnx_ops": sorted(p["ops"]),
                "onnxruntime_ops": sorted(o["ops"]),
            }
        )
    rows.sort(key=lambda r: -r["diff_us"])
    return rows


def profile_pair(path: Path, feeds: dict, threads: int, runs: int, warmup: int, settle_s: float, pionnx, ort, tmp):
    """Both runtimes' profiles of one model at one thread count, runs alternating; returns each one's
    node medians and median wall time of a run (ms)."""
    from ci.bench.run import session_options

    sessions, walls = {}, {}
    for name, rt in (("pionnx", pionnx), ("onnxruntime", ort)):
        opts = session_options(name, rt, threads)
        opts.enable_profiling = True
        opts.profile_file_prefix = str(Path(tmp) / f"nodes-{name}")
        opts.log_severity_level = 3  # pionnx too: the light models' unused initializers
        sessions[name] = rt.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        walls[name] = []
    for i in range(warmup + runs):
        for name, sess in sessions.items():
            if settle_s:
                time.sleep(settle_s)
            t0 = time.perf_counter()
            sess.run(None, feeds)
            if i >= warmup:
                walls[name].append((time.perf_counter() - t0) * 1e3)
    out = {}
    for name, sess in sessions.items():
        profile = Path(sess.end_profiling())
        events = json.loads(profile.read_text())
        profile.unlink()
        out[name] = (node_medians(events, warmup), statistics.median(walls[name]))
    return out


def fmt_key(row: dict) -> str:
    return f"{row['output']} <- {', '.join(row['inputs'])}"


def table(model: str, threads: int, entry: dict, top: int) -> list[str]:
    rows = entry["groups"]
    lines = [
        f"{model}, {threads} thread(s): run {entry['pionnx_wall_ms']:.2f} ms pionnx, "
        f"{entry['onnxruntime_wall_ms']:.2f} ms onnxruntime (median wall); node sums "
        f"{entry['pionnx_nodes_ms']:.2f} / {entry['onnxruntime_nodes_ms']:.2f} ms",
        f"  {'pionnx ms':>9} {'onnxrt ms':>9} {'diff ms':>8} {'nodes':>6}  operators (pionnx / onnxruntime); output <- inputs",
    ]

    def line(r: dict) -> str:
        ops = f"{'+'.join(r['pionnx_ops']) or '-'} / {'+'.join(r['onnxruntime_ops']) or '-'}"
        nodes = f"{r['pionnx_nodes']}/{r['onnxruntime_nodes']}"
        return (
            f"  {r['pionnx_us'] / 1e3:9.3f} {r['onnxruntime_us'] / 1e3:9.3f} {r['diff_us'] / 1e3:+8.3f} "
            f"{nodes:>6}  {ops}; {fmt_key(r)}"
        )

    behind = [r for r in rows if r["diff_us"] > 0][:top]
    ahead = [r for r in reversed(rows) if r["diff_us"] < 0][: max(1, top // 3)]
    lines.append(f"  where pionnx spends more ({len(behind)} of {sum(r['diff_us'] > 0 for r in rows)} groups):")
    lines += [line(r) for r in behind]
    lines.append(f"  where pionnx spends less ({len(ahead)} of {sum(r['diff_us'] < 0 for r in rows)} groups):")
    lines += [line(r) for r in ahead]
    return lines


def run(args, names: list[str], threads_list: list[int], pionnx, ort, cache_dir: Path, tmp) -> dict:
    from ci.bench import models as bench_models

    runs = args.runs or 10
    warmup = args.warmup if args.warmup is not None else 2
    results: dict = {"runs": runs, "warmup": warmup, "models": {}, "all_checks_ok": True}
    for model in names:
        bm = bench_models.prepare(model, cache_dir)
        feeds = bm.feeds()
        results["models"][model] = {}
        for threads in threads_list:
            settle = args.settle_ms / 1e3 if threads > 1 else 0.0
            got = profile_pair(bm.path, feeds, threads, runs, warmup, settle, pionnx, ort, tmp)
            (ours, our_wall), (theirs, their_wall) = got["pionnx"], got["onnxruntime"]
            entry = {
                "pionnx_wall_ms": our_wall,
                "onnxruntime_wall_ms": their_wall,
                "pionnx_nodes_ms": sum(n["us"] for n in ours.values()) / 1e3,
                "onnxruntime_nodes_ms": sum(n["us"] for n in theirs.values()) / 1e3,
                "groups": compare(ours, theirs),
            }
            results["models"][model][str(threads)] = entry
            print("\n".join(table(model, threads, entry, args.nodes_top)), flush=True)
    return results
