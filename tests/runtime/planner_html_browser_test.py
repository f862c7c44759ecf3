#!/usr/bin/env python3
"""The `sparq plan` HTML report in a real headless browser (Debian chromium): it renders
from the fixture bench/eval and the shipped example workload, the browser logs no console
errors, the DOM holds the three inline-SVG charts (with axis titles, a legend and hatched
estimates) and no external references nor absolute paths of this machine, and the
screenshots at 1280 and 800 px wide are not blank (decoded with a small PNG reader: enough
non-white pixels, and the chart colours are present).

usage: planner_html_browser_test.py SPARQ SOURCE_DIR WORK_DIR"""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def read_png(path):
    """(width, height, rows of (r, g, b)) for 8-bit RGB/RGBA non-interlaced PNGs."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path} is not a PNG")
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                fail(f"unsupported PNG: depth {depth}, colour type {colour}, interlace {interlace}")
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(width)])
        prev = line
    return width, height, rows


def chromium(args, profile):
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0"] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def main():
    sparq, source, work = sys.argv[1:4]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    fixtures = os.path.join(source, "tests/runtime/fixtures/planner")
    html = os.path.join(work, "plan.html")
    r = subprocess.run([sparq, "plan", "--bench", os.path.join(fixtures, "bench.json"),
                        "--eval", os.path.join(fixtures, "eval.json"),
                        "--workload", os.path.join(source, "models/example-workload.yaml"),
                        "--html", html], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail(f"sparq plan exited {r.returncode}: {r.stderr}")
    text = open(html, encoding="utf-8").read()
    if re.search(r"""(src|href)\s*=\s*["'](https?:|//)|@import|url\((?!#)""", text):
        fail("the report references external assets")
    for path in (os.path.abspath(source), os.path.abspath(work), fixtures):
        if path in text:
            fail(f"the report names a path of the machine that made it: {path}")
    for words in ("class=\"legend\"", "url(#hatch-", "(log scale)", "Assumptions", "host server", "est."):
        if words not in text:
            fail(f"the report lacks {words!r}")

    url = "file://" + os.path.abspath(html)
    with tempfile.TemporaryDirectory() as profile:
        dom = chromium(["--dump-dom", url], profile)
    if dom.returncode != 0:
        fail(f"chromium --dump-dom exited {dom.returncode}: {dom.stderr[-2000:]}")
    # The example is air-gapped (deployment: on-prem): no own-or-rent chart.
    if dom.stdout.count("<svg") != 2 or "Renting is ruled out" not in dom.stdout:
        fail(f"expected 2 inline SVG charts and no break-even curve, found {dom.stdout.count('<svg')} charts")
    anywhere = os.path.join(work, "anywhere.yaml")
    with open(os.path.join(source, "models/example-workload.yaml"), encoding="utf-8") as f:
        open(anywhere, "w", encoding="utf-8").write(f.read().replace("deployment: on-prem", "deployment: any"))
    any_html = os.path.join(work, "any.html")
    r = subprocess.run([sparq, "plan", "--bench", os.path.join(fixtures, "bench.json"), "--workload", anywhere,
                        "--html", any_html], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail(f"sparq plan (deployment: any) exited {r.returncode}: {r.stderr}")
    with tempfile.TemporaryDirectory() as profile:
        any_dom = chromium(["--dump-dom", "file://" + os.path.abspath(any_html)], profile)
    if any_dom.stdout.count("<svg") != 3 or "break-even" not in any_dom.stdout:
        fail(f"deployment: any: expected 3 inline SVG charts with the break-even curve, found {any_dom.stdout.count('<svg')}")
    if "Verdict" not in text and "verdict" not in dom.stdout:
        fail("no verdict in the rendered DOM")

    for size in ((1280, 1600), (800, 1600)):
        png = os.path.join(work, f"plan-{size[0]}.png")
        with tempfile.TemporaryDirectory() as profile:
            shot = chromium([f"--screenshot={png}", f"--window-size={size[0]},{size[1]}", url], profile)
        if shot.returncode != 0 or not os.path.exists(png):
            fail(f"chromium --screenshot exited {shot.returncode}: {shot.stderr[-2000:]}")
        console = [l for l in (dom.stderr + shot.stderr).splitlines()
                   if "CONSOLE" in l or "Uncaught" in l or "Failed to load" in l]
        if console:
            fail("browser console reported:\n" + "\n".join(console))

        width, height, rows = read_png(png)
        if (width, height) != size:
            fail(f"screenshot is {width}x{height}, expected {size[0]}x{size[1]}")
        pixels = width * height
        ink = sum(1 for row in rows for p in row if min(p) < 200)
        cpu_blue = sum(1 for row in rows for p in row if abs(p[0] - 0x2b) < 12 and abs(p[1] - 0x7b) < 12 and abs(p[2] - 0xb9) < 12)
        gpu_green = sum(1 for row in rows for p in row if abs(p[0] - 0x3c) < 12 and abs(p[1] - 0x9d) < 12 and abs(p[2] - 0x4e) < 12)
        # The page fits the window: no column of ink beyond it (a chart that does not shrink
        # would be cut at the right edge, and the screenshot would show it touching it).
        right_edge_ink = sum(1 for row in rows if min(row[-3]) < 200)
        print(f"screenshot {width}x{height}: {ink / pixels:.1%} ink, {cpu_blue} CPU-blue and {gpu_green} GPU-green "
              f"pixels, {right_edge_ink} rows inked at the right edge")
        if ink < 0.02 * pixels:
            fail("screenshot is (nearly) blank")
        if cpu_blue < 500 or gpu_green < 500:
            fail("chart bars missing from the screenshot")
        if right_edge_ink:
            fail("something is cut at the right edge of the window")
    print("PASS")


if __name__ == "__main__":
    main()
