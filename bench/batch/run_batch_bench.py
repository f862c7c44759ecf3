#!/usr/bin/python3
"""Batch throughput of `sparq classify` with the default model on the whole dev set.

Single process at --threads 1 and --threads 2, interleaved round by round so that the shared
machine's load drifts over both alike; then the 4-task Slurm job array of
tests/slurm/run_slurm_array_test.sh (real slurmctld/slurmd, 1 CPU per task, so the tasks
queue two at a time on a 2-CPU machine), timed from sbatch to the last task done, plus the
`sparq merge`. Documents/s is records / wall seconds, model loading and input parsing
included, since that is what a batch job costs; sparq's own summary line (which starts its
clock after loading) is reported beside it. Prints a Markdown section for bench/RESULTS.md.

Usage: bench/batch/run_batch_bench.py [--sparq build/sparq] [--input DEV] [--rounds 3]
                                      [--slurm-rounds 2] [--no-slurm]
The Slurm part needs root and the packages tools/install-deps.sh installs.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "debian-sections-s90b4-q8.sparq"
SLURM_TEST = REPO / "tests" / "slurm" / "run_slurm_array_test.sh"


def load_average():
    return os.getloadavg()[0]


def count_records(path):
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def run_classify(sparq, input_path, threads, out_path):
    cmd = [str(sparq), "classify", str(MODEL), "-i", str(input_path), "-o", str(out_path),
           "--threads", str(threads)]
    load_before = load_average()
    start = time.monotonic()
    with tempfile.TemporaryFile(mode="w+") as err:
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        # wait4 gives the child's own CPU time: on a shared machine, documents per CPU-second
        # drift far less than documents per wall second.
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.monotonic() - start
        err.seek(0)
        stderr = err.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed ({os.waitstatus_to_exitcode(status)}):\n{stderr}")
    reported = re.search(r"throughput: ([0-9.]+) documents/s", stderr)
    return {"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime, "load": load_before,
            "reported_docs_per_s": float(reported.group(1)) if reported else None}


def run_slurm(sparq, input_path):
    start_load = load_average()
    done = subprocess.run(["bash", str(SLURM_TEST), str(sparq), str(input_path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{SLURM_TEST} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    timing = re.search(r"timing: array_seconds=([0-9.]+) merge_seconds=([0-9.]+) tasks=(\d+)",
                       done.stdout)
    if not timing:
        sys.exit(f"no timing line in the Slurm test's output:\n{done.stdout}")
    return {"array_seconds": float(timing.group(1)), "merge_seconds": float(timing.group(2)),
            "tasks": int(timing.group(3)), "load": start_load}


def hwinfo_summary(sparq):
    done = subprocess.run([str(sparq), "hwinfo", "--json"], capture_output=True, text=True)
    if done.returncode != 0:
        return f"(sparq hwinfo failed: {done.stderr.strip()})"
    info = json.loads(done.stdout)
    cpu, measured = info["cpu"], info.get("measured") or {}
    text = (f"{cpu['model']}, {cpu['sockets']} socket, {cpu['cores']} cores, {cpu['threads']} threads; "
            f"selected ISA `{info['isa']['selected']}`")
    if measured:
        text += (f"; measured at {measured['threads']} threads during this run: "
                 f"{measured['bandwidth_gbs']['all_threads']:.1f} GB/s triad, "
                 f"{measured['f32_gflops']['all_threads']:.0f} f32 GFLOP/s, "
                 f"{measured['int8_gops']['all_threads']:.0f} int8 GOP/s")
    return text


def span(values, fmt="{:.1f}"):
    return f"{fmt.format(min(values))}-{fmt.format(max(values))}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sparq", default=str(REPO / "build" / "sparq"))
    parser.add_argument("--input",
                        default=str(REPO.parent / "shared" / "data" / "debian-descriptions" / "dev.jsonl"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slurm-rounds", type=int, default=2)
    parser.add_argument("--no-slurm", action="store_true")
    args = parser.parse_args()
    sparq = Path(args.sparq).resolve()
    input_path = Path(args.input).resolve()
    records = count_records(input_path)

    hw = hwinfo_summary(sparq)
    single = {1: [], 2: []}
    with tempfile.TemporaryDirectory(prefix="sparq-batch-bench.") as scratch:
        outputs = {}
        for round_index in range(args.rounds):
            for threads in (1, 2):
                out = Path(scratch) / f"t{threads}.jsonl"
                single[threads].append(run_classify(sparq, input_path, threads, out))
                outputs[threads] = out.read_bytes()
                r = single[threads][-1]
                print(f"round {round_index + 1} threads {threads}: {r['seconds']:.2f} s "
                      f"({records / r['seconds']:.1f} docs/s), load {r['load']:.2f}", file=sys.stderr)
        same_output = outputs[1] == outputs[2]
    slurm = []
    if not args.no_slurm:
        for round_index in range(args.slurm_rounds):
            slurm.append(run_slurm(sparq, input_path))
            s = slurm[-1]
            print(f"slurm round {round_index + 1}: array {s['array_seconds']:.2f} s + merge "
                  f"{s['merge_seconds']:.2f} s, load {s['load']:.2f}", file=sys.stderr)

    loads = [r["load"] for rs in single.values() for r in rs] + [s["load"] for s in slurm]
    print(f"## {time.strftime('%Y-%m-%d')} — batch classify throughput (issue 7)\n")
    print(f"**Command:** `bench/batch/run_batch_bench.py --sparq {args.sparq} --rounds {args.rounds} "
          f"--slurm-rounds {args.slurm_rounds}{' --no-slurm' if args.no_slurm else ''}` "
          f"({records} dev records, model `models/{MODEL.name}`; each single-process run is "
          f"`sparq classify {MODEL.relative_to(REPO)} -i {args.input} -o OUT --threads T`, the Slurm run is "
          f"`tests/slurm/run_slurm_array_test.sh`).\n")
    print(f"**1-min load average** before each run: {span(loads, '{:.2f}')} "
          f"(median {statistics.median(loads):.2f})"
          + (": the 2-CPU machine was busy with other work (load > 3), so these rates are lower bounds"
             if max(loads) > 3 else "") + ".\n")
    print(f"**Machine (`sparq hwinfo`):** {hw}.\n")
    print("| run | wall s (median) | docs/s (median) | docs/s range | sparq's own docs/s (median) "
          "| CPU s (median) | docs per CPU-s (median) | rounds |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for threads in (1, 2):
        rs = single[threads]
        secs = [r["seconds"] for r in rs]
        rates = [records / s for s in secs]
        own = [r["reported_docs_per_s"] for r in rs if r["reported_docs_per_s"] is not None]
        own_text = f"{statistics.median(own):.1f}" if own else "-"
        cpu = [r["cpu_seconds"] for r in rs]
        print(f"| `sparq classify --threads {threads}`, one process | {statistics.median(secs):.2f} | "
              f"{statistics.median(rates):.1f} | {span(rates)} | {own_text} | {statistics.median(cpu):.2f} | "
              f"{statistics.median([records / c for c in cpu]):.1f} | {len(rs)} |")
    if slurm:
        totals = [s["array_seconds"] + s["merge_seconds"] for s in slurm]
        rates = [records / t for t in totals]
        print(f"| Slurm array, {slurm[0]['tasks']} tasks x 1 CPU, sbatch to merged | "
              f"{statistics.median(totals):.2f} | {statistics.median(rates):.1f} | {span(rates)} | - | - | - | {len(slurm)} |")
        print(f"\nSlurm: array {span([s['array_seconds'] for s in slurm], '{:.2f}')} s from sbatch to "
              f"the last task done, merge {span([s['merge_seconds'] for s in slurm], '{:.2f}')} s.")
    print(f"\nthreads 1 and 2 outputs byte-identical: {'yes' if same_output else 'NO'}")


if __name__ == "__main__":
    main()
