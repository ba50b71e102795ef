#!/bin/sh
# The shipped GAN and VAE baselines' recipe: both trained side by side for MINUTES each on the segments
# in build/rolls (`cadenza rolls`), into $1 (default runs). On the 2-core CPU use `cadenza gan train` /
# `cadenza vae train` one at a time instead; this ran once on a lent H100 (docs/baselines.md), where only
# torch, accelerate and safetensors are needed, hence `python3 -m` rather than the console script.
# Extra options after the folder go to both (e.g. --max_steps 20 --cpu true for a quick check).
set -u
# Three processes with torch's default threads on a 16-core machine ran under 3 steps a second (OpenMP
# threads spinning for cores the others hold); 4 threads each gave about 30.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}
OUT=${1:-runs}
[ $# -gt 0 ] && shift
MINUTES=${MINUTES:-5}
COMMON="--rolls ${ROLLS:-build/rolls} --max_minutes $MINUTES --max_steps 1000000 --eval_every 1000 --eval_batches 20 --save_every 2000"
python3 -m cadenza.gan_vae.train gan $COMMON --output_dir "$OUT/gan" --batch_size 64 --lr 2e-4 "$@" > "$OUT/gan.log" 2>&1 &
GAN=$!
python3 -m cadenza.gan_vae.train gan $COMMON --output_dir "$OUT/gan-fast" --batch_size 64 --lr 1e-3 "$@" > "$OUT/gan-fast.log" 2>&1 &
FAST=$!
python3 -m cadenza.gan_vae.train vae $COMMON --output_dir "$OUT/vae" --batch_size 256 --kl_warmup 5000 "$@" > "$OUT/vae.log" 2>&1 &
VAE=$!
status=0
for pid in $GAN $FAST $VAE; do wait $pid || status=1; done
exit $status
