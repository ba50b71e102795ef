#!/bin/sh
# The base model on a lent GPU (docs/training.md), from token shards: a size sweep from scratch for
# SWEEP_MINUTES each, then the shipped size continued from its weights (INIT) for MINUTES, into $1
# (default runs). Needs only torch, numpy, transformers and accelerate there, hence `python3 -m`.
# The shards travel as build/shards.tgz (`tar czf build/shards.tgz -C build shards`, 34 MB) with the
# code and INIT; this unpacks them. Extra options after the folder go to every run (a CPU check, with
# the venv first on PATH: `PATH=.venv/bin:$PATH
# PRECISION=no SIZES=1x32 SWEEP_MINUTES=0.05 MINUTES=0.05 sh scripts/train_base_gpu.sh /tmp/g --cpu true
# --batch_size 2 --eval_batches 1`). Each run's curve is in <folder>/<run>/metrics.csv; the sweep's last
# validation losses are printed at the end.
set -eu
OUT=${1:-runs}
[ $# -gt 0 ] && shift
[ -d build/shards ] || tar xzf build/shards.tgz -C build
SIZES=${SIZES:-"4x256 6x384 8x512"}  # layers x width; 4x256 is the size the CPU decodes fast enough
SWEEP_MINUTES=${SWEEP_MINUTES:-1}
MINUTES=${MINUTES:-5}
INIT=${INIT:-checkpoints/cadenza-base}
COMMON="--shards build/shards --mixed_precision ${PRECISION:-bf16} --max_steps 1000000 --eval_every 200
  --eval_batches 16 --save_every 100000 --infill_share 0.25 --style_alpha 0.5 --save_dtype float16"
mkdir -p "$OUT"
for size in $SIZES; do
  layers=${size%x*}
  width=${size#*x}
  python3 -m cadenza.cli shards train $COMMON --output_dir "$OUT/sweep-$size" --n_layer "$layers" \
    --n_embd "$width" --n_head $((width / 64 > 0 ? width / 64 : 1)) --n_positions 512 --batch_size 64 \
    --lr 1e-3 --warmup_steps 100 --max_minutes "$SWEEP_MINUTES" "$@" > "$OUT/sweep-$size.log" 2>&1
done
python3 -m cadenza.cli shards train $COMMON --output_dir "$OUT/base-gpu" --init_from "$INIT" \
  --batch_size 64 --lr 3e-4 --warmup_steps 100 --max_minutes "$MINUTES" "$@" > "$OUT/base-gpu.log" 2>&1
for size in $SIZES; do
  echo "sweep $size: $(tail -1 "$OUT/sweep-$size/metrics.csv")"
done
echo "base-gpu: $(tail -1 "$OUT/base-gpu/metrics.csv")"
