# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Keep freed memory in the heap instead of handing it back to the kernel: on our small VMs torch spends
# most of a CPU step page-faulting fresh allocations otherwise (measured 2x faster training steps).
export MALLOC_MMAP_THRESHOLD_ := 17179869184
export MALLOC_TRIM_THRESHOLD_ := 68719476736
export MALLOC_TOP_PAD_ := 1073741824

.PHONY: install demo test lint browser corpus train-base train-base-more train-base-v3 train-baselines clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: pip takes the CPU wheel that lies on this machine instead of a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the browser test; skipped quietly where apt is unavailable or not root.
browser:
	@if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
		>/dev/null 2>&1 || echo "could not install chromium; the browser test will be skipped"; \
	fi

demo: install
	$(BIN)/python app.py

test: install browser
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check cadenza tests benchmarks docs app.py
	$(BIN)/ruff format --check cadenza tests benchmarks docs app.py

corpus: install
	$(BIN)/cadenza corpus build

# The base model's recipe (v2): the whole embedded corpus (13k pieces; ~7 minutes to build on 2 cores, see
# docs/corpus.md), BPE merges learned on its train split, key tokens, every style weighed by --style_alpha
# and transposed across all 12 keys (docs/training.md), then a CPU-sized run whose 150-minute budget spans
# sessions: run `make train-base` again and it resumes from runs/base (delete that folder to start over).
# No dropout: with it PyTorch's CPU attention falls back from the fused flash kernel (measured 2-4x slower steps).
BASE_CORPUS := build/corpus/embedded
BASE_TRAIN := --bpe_vocab 4000 --n_layer 4 --n_embd 256 --n_head 4 --n_positions 512 --dropout 0.0 \
	--batch_size 16 --lr 1.5e-3 --warmup_steps 100 --max_steps 100000 --max_minutes 150 --eval_every 200 \
	--eval_batches 8 --save_every 100 --transpose 6 --style_alpha 0.5 --mixed_precision auto \
	--save_dtype float16

train-base: install
	$(BIN)/cadenza corpus build --out $(BASE_CORPUS)
	$(BIN)/cadenza train --corpus $(BASE_CORPUS) --output_dir runs/base $(BASE_TRAIN) \
		$(if $(wildcard runs/base/states),--resume true,)
	rm -rf checkpoints/cadenza-base && cp -r runs/base/model checkpoints/cadenza-base
	$(BIN)/cadenza evaluate --models checkpoints/cadenza-base ngram --corpus $(BASE_CORPUS) \
		--pieces_per_style 32 --out docs/report --update_card true

# More training from the shipped checkpoint's own weights and tokenizer (how its stages 2 and 3 were made,
# then on the capped corpus: `--style_limits $(BASE_LIMITS)`; stage 3 with MORE_MINUTES=40 MORE_LR=5e-4).
BASE_LIMITS := bach=250,palestrina=200,classical=14,essen_folk=10,irish_fiddle=400
MORE_MINUTES ?= 100
MORE_LR ?= 1e-3
BASE_MORE := --init_from checkpoints/cadenza-base --batch_size 8 --lr $(MORE_LR) --warmup_steps 50 \
	--max_steps 100000 --max_minutes $(MORE_MINUTES) --eval_every 200 --eval_batches 8 --save_every 100 \
	--transpose 3 --style_alpha 0.5 --mixed_precision auto --save_dtype float16

train-base-more: install
	$(BIN)/cadenza corpus build --out $(BASE_CORPUS)
	rm -rf runs/base-more  # a fresh run; continue a killed one by hand with --resume true
	$(BIN)/cadenza train --corpus $(BASE_CORPUS) --output_dir runs/base-more $(BASE_MORE)
	rm -rf checkpoints/cadenza-base && cp -r runs/base-more/model checkpoints/cadenza-base
	$(BIN)/cadenza evaluate --models checkpoints/cadenza-base ngram --corpus $(BASE_CORPUS) \
		--pieces_per_style 32 --out docs/report --update_card true

# Base model v3 (its card and docs/training.md): v2's weights and tokenizer (from git history) trained on
# token shards: the train split with BPE, prefixes and 13 transpositions applied (~36 M tokens, 69 MB),
# with a quarter of the rows in MMM's bar-infilling layout. 290 minutes on 2 cores; run again to resume
# from runs/base-v3 (the budget spans sessions). `cadenza shards train` imports only torch, numpy,
# transformers and accelerate, so the same folder trains on a bare GPU machine (docs/training.md).
# The shipped checkpoints/cadenza-base is runs/base-v3/model with its card written by hand (its README).
V2_COMMIT := 958a58b
V3_TRAIN := --batch_size 16 --lr 8e-4 --warmup_steps 200 --max_steps 1000000 --max_minutes 290 \
	--eval_every 250 --eval_batches 16 --save_every 100 --infill_share 0.25 --style_alpha 0.5 \
	--mixed_precision auto --save_dtype float16

train-base-v3: install
	$(BIN)/cadenza corpus build --out $(BASE_CORPUS)
	mkdir -p build/v2 && git archive $(V2_COMMIT) checkpoints/cadenza-base | tar -x -C build/v2
	$(BIN)/cadenza shards write --corpus $(BASE_CORPUS) --out build/shards \
		--tokenizer build/v2/checkpoints/cadenza-base --transpose 6 --chunk_len 512
	OMP_WAIT_POLICY=PASSIVE $(BIN)/cadenza shards train --shards build/shards \
		--init_from build/v2/checkpoints/cadenza-base --output_dir runs/base-v3 $(V3_TRAIN) \
		$(if $(wildcard runs/base-v3/states),--resume true,)

clean:
	rm -rf $(VENV) build runs out

# The shipped GAN and VAE baselines (docs/baselines.md): both side by side on the 2 cores, one thread
# each, 35 minutes each; the VAE saved in float16 (8 MB). Run again to resume; delete runs/gan and runs/vae
# to start over.
BASELINE_MINUTES ?= 35
train-baselines: install
	$(BIN)/cadenza corpus build --out $(BASE_CORPUS)
	$(BIN)/cadenza rolls --corpus $(BASE_CORPUS) --out build/rolls
	OMP_NUM_THREADS=1 $(BIN)/cadenza gan train --output_dir runs/gan --batch_size 64 --lr 1e-3 --width 128 \
		--max_minutes $(BASELINE_MINUTES) --eval_every 300 --eval_batches 10 --save_every 300 \
		$(if $(wildcard runs/gan/states),--resume true,) & \
	OMP_NUM_THREADS=1 $(BIN)/cadenza vae train --output_dir runs/vae --batch_size 128 --kl_warmup 2500 \
		--max_minutes $(BASELINE_MINUTES) --eval_every 250 --eval_batches 10 --save_every 250 \
		--save_dtype float16 $(if $(wildcard runs/vae/states),--resume true,) & wait
	rm -rf checkpoints/gan checkpoints/vae && cp -r runs/gan/model checkpoints/gan && cp -r runs/vae/model checkpoints/vae
