#!/usr/bin/env bash
# Installs what sparq needs to build, test and benchmark, from Debian 12 packages only.
# Idempotent: does nothing when everything is already installed. Run as root (or with sudo).
set -euo pipefail

native=(
  build-essential cmake ninja-build pkg-config ccache git
  libfmt-dev nlohmann-json3-dev libcli11-dev libzstd-dev libxxhash-dev libnuma-dev libssl-dev libicu-dev
  libeigen3-dev                            # SparseGPT/GPTQ at conversion (header-only)
  libgtest-dev libgmock-dev libbenchmark-dev
  libdnnl-dev libopenblas-dev              # benchmark peers (bench/)
  ocl-icd-opencl-dev                       # Debian's oneDNN CMake config requires OpenCL (only Recommended)
  libyaml-cpp-dev chromium                 # sparq plan: YAML workloads, HTML report test
  libcpp-httplib-dev                       # sparq serve: HTTP/1.1 server
  clang libclang-rt-14-dev                 # libFuzzer target (tests/fuzz)
  g++-aarch64-linux-gnu qemu-user          # aarch64 cross build, tests under qemu
  python3-torch python3-numpy              # PyTorch reference fixtures and peer benchmarks
  nodejs npm                               # Hugging Face tokenizers, ONNX Runtime, node-llama-cpp (tools/node)
  slurm-wlm munge                          # real single-host Slurm for tests/slurm (job arrays)
)
# Libraries for the aarch64 cross build (Debian multiarch).
arm64=(libgtest-dev:arm64 libzstd-dev:arm64 libfmt-dev:arm64 libxxhash-dev:arm64 libnuma-dev:arm64
       libssl-dev:arm64 libgomp1:arm64 libicu-dev:arm64)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi

# npm packages are references for tests and peer benchmarks only, pinned by
# tools/node/package-lock.json; --ignore-scripts because nothing may download at install;
# --omit=optional leaves out node-llama-cpp's GPU and other-platform builds (700 MB of them).
install_node_references() {
  local dir
  dir="$(cd "$(dirname "$0")" && pwd)/node"
  if [ -f "$dir/node_modules/.package-lock.json" ] && cmp -s "$dir/package-lock.json" "$dir/node_modules/.sparq-lock"; then
    echo "install-deps: npm references already installed"
    return
  fi
  (cd "$dir" && npm ci --ignore-scripts --omit=optional --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.sparq-lock)
}

missing=()
for p in "${native[@]}" "${arm64[@]}"; do
  # A Node.js from another source (nodesource) brings its own npm.
  if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
  if [ "$p" = nodejs ] && command -v node >/dev/null; then continue; fi
  # dpkg-query -W, unlike dpkg -s, accepts a name installed for two architectures.
  dpkg-query -W -f='${db:Status-Abbrev}\n' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#native[@]} + ${#arm64[@]} packages already installed"
  install_node_references
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_node_references
