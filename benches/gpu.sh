#!/usr/bin/env bash
# The GPU benchmark: build the release binary, record the machine and its GPU, then run the
# planner suite and the batched-throughput benchmark on wgpu and, for the ratios, on the CPU
# in the same run. Meant for a machine with a GPU and its Vulkan driver (see docker/Dockerfile.gpu).
#
#   benches/gpu.sh [OUT] [SEEDS]      (defaults: benches/results/gpu-$(hostname) 10)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-benches/results/gpu-$(hostname)}
SEEDS=${2:-10}
mkdir -p "$OUT"
cargo build --release --bin flowopt
BIN=target/release/flowopt
{
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs) ($(nproc) threads)"
  if command -v nvidia-smi >/dev/null; then
    echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader)"
  fi
  if command -v vulkaninfo >/dev/null; then
    vulkaninfo --summary 2>/dev/null | grep -E 'deviceName|driverName|apiVersion' | sed 's/^/vulkan: /'
  fi
} | tee "$OUT/device.txt"
# The adapter wgpu picks, as Burn logs it.
RUST_LOG=info "$BIN" plan --planner flowopt --device wgpu \
  < <("$BIN" scenario circle -n 16 --seed 0) 2>&1 >/dev/null | grep -iE 'adapter|wgpu' | head -5 \
  | sed 's/^/wgpu: /' | tee -a "$OUT/device.txt" || true
for device in wgpu cpu; do
  "$BIN" bench throughput --device "$device" --robots 16 --batches 1,2,4,8,16,32,64 \
    --out "$OUT/throughput-$device"
  "$BIN" bench --device "$device" --seeds "$SEEDS" --planners flowopt,filter \
    --out "$OUT/suite-$device"
done
echo "results in $OUT"
