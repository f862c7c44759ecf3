#!/usr/bin/python3
"""Every ISA level's objects disassembled: no instruction above the level.

The dispatcher runs a level's kernels on any CPU that has that level's features
(kernels/isa.cpp), so an instruction the compiler was allowed to emit beyond them is a
crash waiting for the first such CPU. The compile flags (cmake/SparqIsa.cmake) are meant to
prevent that; this reads what the compiler actually produced:

  - per level, every instruction against the features the level lacks (`baseline`, the
    portable objects of every module, may not use any AVX / VEX / EVEX on x86-64, nor
    dotprod, i8mm, BF16, FP16 arithmetic or SVE on aarch64);
  - across levels, functions with vague linkage (inline functions and template
    instantiations compiled into several objects): the linker keeps one copy for all
    callers, so a copy compiled for one level must not also exist at another.

    isa_level_disassembly_test.py --objdump OBJDUMP --arch x86_64|aarch64 --objects FILE

FILE has one `LEVEL PATH` line per object; LEVEL is `baseline` or a level of kernels/isa.h
with `_` for `-`. Each level must also show what it is for (avx2 objects use ymm, a VNNI
level vpdpbusd, ...), so an empty or wrong object list, or an objdump that prints nothing,
cannot pass.
"""

import argparse
import re
import subprocess
import sys

# ---- x86-64 -----------------------------------------------------------------------------

LEGACY_PREFIXES = {0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65}

VNNI = re.compile(r"^vpdp(busd|busds|wssd|wssds)$")
BF16 = re.compile(r"^(vdpbf16ps|vcvtne2ps2bf16|vcvtneps2bf16)$")
AMX_INT8 = re.compile(r"^(ldtilecfg|sttilecfg|tileloadd|tileloaddt1|tilestored|tilezero|"
                      r"tilerelease|tdpb[su][su]d)$")
AMX_BF16_FP16 = re.compile(r"^tdp(bf16|fp16)ps$")
# AVX512DQ, which the AVX-512 levels require (GCC 12 emits vextracti64x2 under -mavx512vl
# even without -mavx512dq, so the levels take DQ rather than pretend to exclude it).
AVX512DQ = re.compile(
    r"^(vpmullq|vcvtt?(ps|pd)2u?qq|vcvtu?qq2(ps|pd)|vextract[fi](32x8|64x2)|"
    r"vinsert[fi](32x8|64x2)|vbroadcast[fi](32x2|32x8|64x2)|vfpclass(ps|pd|ss|sd)|"
    r"vrange(ps|pd|ss|sd)|vreduce(ps|pd|ss|sd)|vpmovm2[dq]|vpmov[dq]2m|"
    r"k(add|and|andn|mov|not|or|ortest|shiftl|shiftr|test|xnor|xor)b|k(add|test)w)$")
# Float logic on EVEX is DQ too (plain F has only the integer vpandd/vpxord forms).
EVEX_DQ_LOGIC = re.compile(r"^v(and|andn|or|xor)p[sd]$")
# VBMI2 and VBMI, which only the avx512vbmi2 kernels (an extension of the VNNI level) may use.
VBMI2 = re.compile(r"^(vpcompress[bw]|vpexpand[bw]|vpsh[lr]dv?[wdq]|vpermb|vperm[it]2b|vpmultishiftqb)$")
# AVX-512 extensions no level requires: CD, IFMA, BITALG, VPOPCNTDQ, VP2INTERSECT, FP16, GFNI.
AVX512_UNUSED = re.compile(
    r"^(vpconflict[dq]|vplzcnt[dq]|vpbroadcastm(b2q|w2d)|vpmadd52[lh]uq|"
    r"vpopcnt[bwdq]|vpshufbitqmb|vp2intersect[dq]|gf2p8\w+|vmovw|"
    r"v\w+(ph|sh)x?|vcvtt?ph2(psx|pd|w|uw|dq|udq|qq|uqq))$")
F16C = {"vcvtph2ps", "vcvtps2ph"}

YMM = re.compile(r"%ymm\d+")
ZMM = re.compile(r"%zmm\d+")
MASK = re.compile(r"%k[0-7]\b")


def x86_encoding(raw):
  """'vex', 'evex' or 'legacy' from an instruction's bytes (64-bit mode, where C4/C5 and 62
  can only be VEX and EVEX prefixes)."""
  for b in raw:
    if b in LEGACY_PREFIXES:
      continue
    if b in (0xC4, 0xC5):
      return "vex"
    if b == 0x62:
      return "evex"
    return "legacy"
  return "legacy"


def x86_features(mnemonic, operands, raw):
  """The x86 features an instruction needs beyond x86-64 SSE2, as names."""
  found = set()
  encoding = x86_encoding(raw)
  if encoding != "legacy":
    found.add(encoding)
  if YMM.search(operands):
    found.add("ymm")
  if ZMM.search(operands):
    found.add("zmm")
  if MASK.search(operands) or mnemonic.startswith("k"):
    found.add("mask")
  if VNNI.match(mnemonic):
    found.add("vnni")
  if BF16.match(mnemonic):
    found.add("bf16")
  if AMX_INT8.match(mnemonic):
    found.add("amx")
  if AMX_BF16_FP16.match(mnemonic):
    found.add("amx-bf16/fp16")
  if AVX512DQ.match(mnemonic) or (encoding == "evex" and EVEX_DQ_LOGIC.match(mnemonic)):
    found.add("avx512dq")
  if VBMI2.match(mnemonic):
    found.add("vbmi2")
  if mnemonic not in F16C and AVX512_UNUSED.match(mnemonic):
    found.add("avx512-unused")
  return found


# ---- aarch64 ----------------------------------------------------------------------------

DOTPROD = re.compile(r"^[su]dot$")
I8MM = re.compile(r"^(smmla|ummla|usmmla|usdot|sudot)$")
ARM_BF16 = re.compile(r"^(bfdot|bfmmla|bfmlal[bt]|bfcvt|bfcvtn2?)$")
SVE_OPERAND = re.compile(r"\bz\d+\.[bhsdq]\b|\bp\d+(/[mz]|\.[bhsd])")
HALF_OPERAND = re.compile(r"\.[48]h\b|\bh\d+\b")
BASELINE_FP_CONVERSIONS = {"fcvt", "fcvtl", "fcvtl2", "fcvtn", "fcvtn2"}
NEON_OPERAND = re.compile(r"\bv\d+\.\d*[bhsd]\b|\bq\d+\b")


def arm_features(mnemonic, operands, raw):
  found = set()
  if SVE_OPERAND.search(operands):
    found.add("sve")
  elif DOTPROD.match(mnemonic):
    found.add("dotprod")
  if I8MM.match(mnemonic):
    found.add("i8mm")
  if ARM_BF16.match(mnemonic):
    found.add("bf16")
  if (mnemonic.startswith("f") and mnemonic not in BASELINE_FP_CONVERSIONS
      and HALF_OPERAND.search(operands)):
    found.add("fp16")
  if NEON_OPERAND.search(operands):
    found.add("neon")
  return found


# ---- levels -----------------------------------------------------------------------------

X86_ABOVE_AVX512 = {"vnni", "vbmi2", "bf16", "amx", "amx-bf16/fp16", "avx512-unused"}
X86_AVX512 = {"evex", "zmm", "mask", "avx512dq"}
LEVELS = {
    # (arch, level): (forbidden features, features at least one instruction must need)
    ("x86_64", "baseline"): ({"vex", "ymm"} | X86_AVX512 | X86_ABOVE_AVX512, set()),
    ("x86_64", "avx2"): (X86_AVX512 | X86_ABOVE_AVX512, {"ymm"}),
    ("x86_64", "avx512"): (X86_ABOVE_AVX512, {"zmm"}),
    ("x86_64", "avx512vnni"): (X86_ABOVE_AVX512 - {"vnni"}, {"vnni"}),
    ("x86_64", "avx512vbmi2"): (X86_ABOVE_AVX512 - {"vnni", "vbmi2"}, {"vbmi2"}),
    ("x86_64", "amx"): (X86_ABOVE_AVX512 - {"vnni", "amx"}, {"amx"}),
    ("aarch64", "baseline"): ({"dotprod", "i8mm", "bf16", "sve", "fp16"}, set()),
    ("aarch64", "neon"): ({"dotprod", "i8mm", "bf16", "sve", "fp16"}, {"neon"}),
    ("aarch64", "neon_dotprod"): ({"i8mm", "bf16", "sve", "fp16"}, {"dotprod"}),
    ("aarch64", "neon_i8mm"): ({"bf16", "sve", "fp16"}, {"i8mm"}),
}

FUNCTION = re.compile(r"^[0-9a-f]+ <(.+)>:$")
INSTRUCTION = re.compile(r"^\s*[0-9a-f]+:\t([0-9a-f ]+)\t(\S+)\s*(.*)$")


def disassemble(objdump, arch, path):
  """(function, mnemonic, operands, raw bytes) for every instruction of `path`."""
  # One line per instruction: wide output, and on x86 room for the longest encoding's bytes.
  args = [objdump, "-d", "-w"] + (["--insn-width=16"] if arch == "x86_64" else []) + [path]
  out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
  function = "?"
  for line in out.splitlines():
    m = FUNCTION.match(line)
    if m:
      function = m.group(1)
      continue
    m = INSTRUCTION.match(line)
    if not m:
      continue
    raw = bytes.fromhex(m.group(1).replace(" ", "")) if arch == "x86_64" else b""
    mnemonic, operands = m.group(2), m.group(3)
    if mnemonic in ("{vex}", "{evex}") or mnemonic.startswith(("rex", "data16", "lock", "rep", "notrack", "bnd")):
      parts = operands.split(None, 1)
      mnemonic, operands = (parts + [""])[:2] if parts else ("", "")
    yield function, mnemonic, operands.split("#")[0].split("//")[0], raw


SYMBOL = re.compile(r"^[0-9a-f]+ (.{7}) (\S+)\t[0-9a-f]+ +(.*)$")


def vague_functions(objdump, path):
  """Functions `path` defines with vague linkage (weak or GNU unique)."""
  out = subprocess.run([objdump, "-t", "-C", path], check=True, capture_output=True,
                       text=True).stdout
  for line in out.splitlines():
    m = SYMBOL.match(line)
    if not m:
      continue
    flags, section, name = m.groups()
    if section != "*UND*" and flags[6] == "F" and (flags[1] == "w" or flags[0] == "u"):
      yield name


def check_level(objdump, arch, level, objects):
  forbidden, expected = LEVELS[(arch, level)]
  features_of = x86_features if arch == "x86_64" else arm_features
  failures, seen, count = [], set(), 0
  for path in objects:
    for function, mnemonic, operands, raw in disassemble(objdump, arch, path):
      count += 1
      needs = features_of(mnemonic, operands, raw)
      seen |= needs
      bad = needs & forbidden
      if bad:
        failures.append(f"{level}: {path.rsplit('/', 1)[-1]}: {function}: "
                        f"{mnemonic} {operands.strip()}  [{', '.join(sorted(bad))}]")
  if count == 0:
    failures.append(f"{level}: no instructions in {len(objects)} object(s)")
  missing = expected - seen
  if missing and count:
    failures.append(f"{level}: no instruction needs {', '.join(sorted(missing))}: "
                    "are these the level's objects?")
  return failures, count


def check_shared_copies(objdump, objects_by_level):
  levels_of = {}
  for level, objects in objects_by_level.items():
    for path in objects:
      for name in vague_functions(objdump, path):
        levels_of.setdefault(name, {}).setdefault(level, path.rsplit("/", 1)[-1])
  failures = []
  for name, where in sorted(levels_of.items()):
    if len(where) > 1:
      copies = ", ".join(f"{level} ({obj})" for level, obj in sorted(where.items()))
      failures.append(f"{name}: copies compiled for {copies}; the linker keeps one for all")
  return failures


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--objdump", required=True)
  parser.add_argument("--arch", required=True, choices=["x86_64", "aarch64"])
  parser.add_argument("--objects", required=True, help="file of `LEVEL PATH` lines")
  args = parser.parse_args()
  objects_by_level = {}
  with open(args.objects) as f:
    for line in f:
      if line.strip():
        level, path = line.split(None, 1)
        objects_by_level.setdefault(level, []).append(path.strip())
  all_failures = []
  for level, objects in objects_by_level.items():
    if (args.arch, level) not in LEVELS:
      parser.error(f"unknown level '{level}' for {args.arch}")
    failures, count = check_level(args.objdump, args.arch, level, objects)
    print(f"{level}: {len(objects)} objects, {count} instructions, {len(failures)} problems")
    all_failures += failures
  shared = check_shared_copies(args.objdump, objects_by_level)
  print(f"functions with copies at several levels: {len(shared)}")
  all_failures += shared
  for f in all_failures[:200]:
    print(f)
  if len(all_failures) > 200:
    print(f"... and {len(all_failures) - 200} more")
  return 1 if all_failures else 0


if __name__ == "__main__":
  sys.exit(main())
