#!/usr/bin/env python3
"""The installed package as a user gets it: `cmake --install` into a fresh prefix, then
- the layout: versioned shared library (SONAME libsparq.so.0), static library, headers,
  sparq.pc naming that prefix, the CLI, the planner catalog;
- the C example docs/examples/classify.c built with nothing but
  `cc $(pkg-config --cflags --libs sparq)` (and once against libsparq.a with
  `pkg-config --static`), run on the sample documents: its labels are `sparq classify`'s
  (the build tree's CLI) for the same documents;
- every installed header resolves its includes with `pkg-config --cflags sparq` alone;
- the installed `sparq plan` finds its catalog relative to itself, also after the prefix
  is moved, and an executable with no catalog next to it names the paths it tried.

usage: installed_package_test.py CMAKE BUILD_DIR SOURCE_DIR WORK_DIR LIBDIR VERSION CXX"""
import json
import os
import shlex
import shutil
import subprocess
import sys


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def run(cmd, env=None, expect=0, **kwargs):
    print("+", " ".join(shlex.quote(str(c)) for c in cmd), flush=True)
    p = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True, **kwargs)
    if expect is not None and p.returncode != expect:
        fail(f"exit code {p.returncode} (expected {expect})\nstdout:\n{p.stdout[-4000:]}\nstderr:\n{p.stderr[-4000:]}")
    return p


def main():
    cmake, build, source, work, libdir, version, cxx = sys.argv[1:8]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    prefix = os.path.join(work, "prefix")
    run([cmake, "--install", build, "--prefix", prefix])

    # Layout.
    lib = os.path.join(prefix, libdir)
    major = version.split(".")[0]
    for link, target in [("libsparq.so", f"libsparq.so.{major}"), (f"libsparq.so.{major}", f"libsparq.so.{version}")]:
        if os.readlink(os.path.join(lib, link)) != target:
            fail(f"{lib}/{link} -> {os.readlink(os.path.join(lib, link))}, expected -> {target}")
    dynamic = run(["readelf", "-d", os.path.join(lib, f"libsparq.so.{version}")]).stdout
    if f"Library soname: [libsparq.so.{major}]" not in dynamic:
        fail(f"no SONAME libsparq.so.{major}:\n{dynamic}")
    for path in [f"{libdir}/libsparq.a", "include/sparq/sparq.h", "include/sparq/formats/error.h",
                 "include/sparq/runtime/jobs/encoder_pipeline.h", "share/sparq/catalog.json", "bin/sparq"]:
        if not os.path.isfile(os.path.join(prefix, path)):
            fail(f"{path} is not installed")
    for private in ["include/sparq/kernels/avx2", "include/sparq/formats/codec_internal.h", "include/sparq/runtime/capi"]:
        if os.path.exists(os.path.join(prefix, private)):
            fail(f"{private} is installed, but it is not a public header")

    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(lib, "pkgconfig"))
    pc = lambda *args: shlex.split(run(["pkg-config", *args, "sparq"], env=env).stdout)
    if run(["pkg-config", "--variable=prefix", "sparq"], env=env).stdout.strip() != prefix:
        fail("sparq.pc does not name the install prefix")
    if run(["pkg-config", "--modversion", "sparq"], env=env).stdout.strip() != version:
        fail("sparq.pc does not carry the project version")

    # The C example, against the shared library and against the static one.
    example = os.path.join(source, "docs/examples/classify.c")
    shared_exe, static_exe = os.path.join(work, "classify"), os.path.join(work, "classify-static")
    strict = ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror"]
    run(["cc", *strict, example, *pc("--cflags", "--libs"), "-o", shared_exe])
    # -l:libsparq.a: the archive even though libsparq.so sits next to it.
    static_libs = ["-l:libsparq.a" if a == "-lsparq" else a for a in pc("--static", "--libs")]
    run(["cc", *strict, example, *pc("--cflags"), *static_libs, "-o", static_exe])
    if "libsparq" in run(["readelf", "-d", static_exe]).stdout:
        fail("classify-static depends on libsparq.so")

    # Documents one per line, for both the example and `sparq classify --format txt`.
    texts = os.path.join(work, "sample-docs.txt")
    with open(os.path.join(source, "models/sample-docs.jsonl")) as f, open(texts, "w") as out:
        for line in f:
            out.write(" ".join(json.loads(line)["text"].split()) + "\n")
    model = os.path.join(source, "models/debian-sections-s90b4-q8.sparq")
    cli = run([os.path.join(build, "sparq"), "classify", model, "--input", texts, "-q"]).stdout
    expected = [json.loads(line)["label"] for line in cli.splitlines()]
    if len(expected) != 303:
        fail(f"sparq classify gave {len(expected)} records for the 303 sample documents")
    for exe in [shared_exe, static_exe]:
        out = run([exe, model, texts], env=dict(env, LD_LIBRARY_PATH=lib)).stdout.splitlines()
        if out != expected:
            diff = [i for i in range(max(len(out), len(expected))) if i >= len(out) or i >= len(expected)
                    or out[i] != expected[i]]
            fail(f"{exe}: {len(out)} labels, {len(diff)} differ from sparq classify's (first at line {diff[0] + 1})")
        print(f"{os.path.basename(exe)}: the 303 labels of sparq classify")

    # Every installed header, each in a translation unit of its own, finds all it includes
    # with the package's Cflags alone (preprocessed only: compiling all of them takes
    # minutes on a loaded machine).
    include_root = os.path.join(prefix, "include/sparq")
    headers = sorted(os.path.relpath(os.path.join(d, f), include_root)
                     for d, _, files in os.walk(include_root) for f in files if f.endswith(".h"))
    units = os.path.join(work, "headers")
    os.makedirs(units)
    for h in headers:
        with open(os.path.join(units, h.replace("/", "_") + ".cpp"), "w") as f:
            f.write(f'#include "{h}"\n')
    run([cxx, "-std=c++20", "-M", *pc("--cflags"), *sorted(os.path.join(units, u) for u in os.listdir(units))])
    print(f"{len(headers)} installed headers resolve their includes")

    # The installed `sparq plan` finds share/sparq/catalog.json next to its bin/, wherever
    # the tree is; alone, it names where it looked.
    plan_args = ["plan", "--bench", os.path.join(source, "tests/runtime/fixtures/planner/bench.json"),
                 "--workload", os.path.join(source, "models/example-workload.yaml")]
    run([os.path.join(prefix, "bin/sparq"), *plan_args])
    moved = os.path.join(work, "moved")
    shutil.move(prefix, moved)
    run([os.path.join(moved, "bin/sparq"), *plan_args])
    lonely = os.path.join(work, "lonely/bin")
    os.makedirs(lonely)
    shutil.copy(os.path.join(moved, "bin/sparq"), lonely)
    p = run([os.path.join(lonely, "sparq"), *plan_args], expect=None)
    tried = os.path.join(work, "lonely/share/sparq/catalog.json")
    if p.returncode == 0:
        print(f"note: a catalog outside the tree was found (is sparq installed system-wide?); stderr: {p.stderr}")
    elif p.returncode != 2 or tried not in p.stderr or "--catalog" not in p.stderr:
        fail(f"exit code {p.returncode}, expected 2 and an error naming {tried}:\n{p.stderr}")
    print("ok")


if __name__ == "__main__":
    main()
