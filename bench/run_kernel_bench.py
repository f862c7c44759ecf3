#!/usr/bin/python3
"""Runs the kernel benchmarks and prints one table with ratios against the peers.

  bench/run_kernel_bench.py --build build [--filter REGEX] [--threads N]

Every row of sparq_kernel_bench named <family>/<impl>/<shape>[/s<sparsity>] is shown with
its GOP/s and GB/s (the GOPS / GBps counters), its ratio to each peer row of the same
shape measured in the same run (impl onednn_s8, onednn_f32, openblas_f32), and the
fraction of the peaks `sparq hwinfo` measures on this machine: the int8 (or f32, for f32
impls) multiply-add peak for M > 4, the memory bandwidth (STREAM triad) for GEMV (M <= 4).
Nothing here knows the benchmark list, so new families (sparse, ops) appear as they are
added. Only the Python standard library is used.
"""
import argparse
import json
import os
import re
import subprocess
import sys

PEERS = ["onednn_s8", "onednn_f32", "openblas_f32"]


def run_json(cmd, env):
    out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)


def hwinfo_peaks(build, env, threads):
    sparq = os.path.join(build, "sparq")
    cmd = [sparq, "hwinfo", "--json"] + (["--threads", str(threads)] if threads else [])
    try:
        measured = run_json(cmd, env).get("measured") or {}
    except (OSError, subprocess.CalledProcessError, json.JSONDecodeError) as e:
        print(f"note: no hwinfo peaks ({e})", file=sys.stderr)
        return None
    pick = lambda k: (measured.get(k) or {}).get("all_threads")
    return {"int8_gops": pick("int8_gops"), "f32_gflops": pick("f32_gflops"),
            "bandwidth_gbs": pick("bandwidth_gbs"), "isa": measured.get("isa"),
            "threads": measured.get("threads")}


def parse_name(name):
    parts = [p for p in name.split("/") if not p.startswith(("min_time:", "real_time", "iterations:"))]
    family, impl, shape = (parts + ["", "", ""])[:3]
    sparsity = 0
    for p in parts[3:]:
        m = re.fullmatch(r"s(\d+)", p)
        if m:
            sparsity = int(m.group(1))
    return family, impl, shape, sparsity


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build", help="CMake build directory (has sparq and bench/)")
    ap.add_argument("--filter", default=".", help="--benchmark_filter regex")
    ap.add_argument("--threads", type=int, default=0, help="threads for every implementation (default: all)")
    ap.add_argument("--no-peaks", action="store_true", help="skip sparq hwinfo's peak measurement")
    ap.add_argument("--json-out", help="also save the raw Google Benchmark JSON here")
    args = ap.parse_args()

    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
        env["OPENBLAS_NUM_THREADS"] = str(args.threads)
    peaks = None if args.no_peaks else hwinfo_peaks(args.build, env, args.threads)

    bench = os.path.join(args.build, "bench", "sparq_kernel_bench")
    data = run_json([bench, "--benchmark_format=json", f"--benchmark_filter={args.filter}"], env)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"benchmarks": data, "peaks": peaks}, f, indent=1)

    rows = []
    for b in data.get("benchmarks", []):
        family, impl, shape, sparsity = parse_name(b["name"])
        rows.append({"family": family, "impl": impl, "shape": shape, "sparsity": sparsity,
                     "ms": b.get("real_time"), "unit": b.get("time_unit", "ns"),
                     "gops": b.get("GOPS"), "gbps": b.get("GBps"), "m": b.get("M"),
                     "error": b.get("error_message"), "label": b.get("label", "")})
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
    peer_gops = {}
    for r in rows:
        if r["ms"] is not None:
            r["ms"] *= scale.get(r["unit"], 1.0)
        if r["impl"] in PEERS and r["gops"]:
            peer_gops[(r["shape"], r["impl"])] = r["gops"]

    ctx = data.get("context", {})
    print(f"# {ctx.get('date', '')}  host {ctx.get('host_name', '')}  sparq ISA {ctx.get('sparq_isa', '?')}"
          f"  threads {ctx.get('sparq_threads', '?')}")
    if peaks:
        print(f"# hwinfo peaks ({peaks['isa']}, {peaks['threads']} threads): int8 {fmt(peaks['int8_gops'], '.0f')} GOP/s,"
              f" f32 {fmt(peaks['f32_gflops'], '.0f')} GFLOP/s, bandwidth {fmt(peaks['bandwidth_gbs'], '.1f')} GB/s")
    head = ["family", "impl", "shape", "sp%", "ms", "GOP/s", "GB/s"] + [f"x{p}" for p in PEERS] + ["%peak", "%bw", "label"]
    table = []
    for r in rows:
        if r["error"]:
            table.append([r["family"], r["impl"], r["shape"], str(r["sparsity"]), "error: " + r["error"]])
            continue
        ratios = [fmt(r["gops"] / peer_gops[(r["shape"], p)], ".2f") if (r["shape"], p) in peer_gops and r["gops"] else "-"
                  for p in PEERS]
        pct_peak = pct_bw = None
        if peaks and r["gops"]:
            if r["m"] is not None and r["m"] <= 4:
                if peaks["bandwidth_gbs"] and r["gbps"]:
                    pct_bw = 100.0 * r["gbps"] / peaks["bandwidth_gbs"]
            else:
                peak = peaks["f32_gflops"] if "f32" in r["impl"] else peaks["int8_gops"]
                if peak:
                    pct_peak = 100.0 * r["gops"] / peak
        table.append([r["family"], r["impl"], r["shape"], str(r["sparsity"]), fmt(r["ms"], ".3f"),
                      fmt(r["gops"], ".1f"), fmt(r["gbps"], ".2f")] + ratios +
                     [fmt(pct_peak, ".0f"), fmt(pct_bw, ".0f"), r["label"][:40]])
    widths = [max(len(head[i]), *(len(t[i]) for t in table if i < len(t) and len(t) == len(head)))
              for i in range(len(head))] if table else [len(h) for h in head]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    for t in table:
        print("  ".join(c.ljust(w) for c, w in zip(t, widths)))


if __name__ == "__main__":
    main()
