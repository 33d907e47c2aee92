#!/usr/bin/env bash
# The GPU checks and measurements in one call, most valuable first; each step has its own time limit
# so that one slow step cannot take the others' results with it. Run from the repository root:
#
#   AUDIOSLOTS_SOURCE_COMMIT=$(git rev-parse HEAD) OUT=/some/dir bash scripts/gpu_check.sh
#
# (AUDIOSLOTS_SOURCE_COMMIT: the clean commit the copied tree is; provenance records it instead of
# asking git, since the machine's copy may hold no .git or a stale one.) Python packages the
# machine lacks travel as wheels in .whl/ (see the device README).
# Writes under $OUT: gpu_check.log, nvidia-smi.txt, test_cuda.log, the benchmark JSON files and
# results.tar (the run folder of scripts/time_boxed_run.py, without its checkpoints).
set -uo pipefail
OUT=${OUT:?set OUT to a folder for the results}
RUN_SECONDS=${RUN_SECONDS:-120}  # per network
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1
start=$(date +%s)
step() { echo; echo "=== [$(( $(date +%s) - start )) s] $*"; }

export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=$PWD:/tmp/site
fi
nvidia-smi | tee "$OUT/nvidia-smi.txt"
gpu=$(python3 -c "import torch; print(torch.cuda.get_device_name().split()[1].lower())")  # e.g. h200
python3 -c "import torch, soundfile, pyloudnorm; print('torch', torch.__version__, torch.cuda.get_device_name())"

step "real-speech mini Libri2Mix"
python3 -m audioslots mix-librispeech data/librispeech-mini data/real/Libri2Mix --no-progress || exit 1

step "CUDA tests"
[ -n "${SKIP_TESTS:-}" ] || timeout 240 python3 -m pytest -q -p no:cacheprovider tests/training/test_cuda.py 2>&1 | tee "$OUT/test_cuda.log"

step "one-process torchrun (NCCL) on the tiny preset"
[ -n "${SKIP_TESTS:-}" ] || timeout 90 torchrun --standalone --nproc_per_node 1 -m audioslots train --preset tiny --device cuda \
  --data data/real/Libri2Mix --out /tmp/torchrun_tiny --no-progress && tail -3 /tmp/torchrun_tiny/log.csv

step "paper-preset training throughput (eager)"
throughput=$OUT/train_throughput_paper_${gpu}.json
timeout 240 python3 -m benchmarks.train_throughput --preset paper --device cuda --steps 40 --warmup 5 \
  --data data/real/Libri2Mix --out "$throughput"

step "time-boxed paper-preset run: ${RUN_SECONDS} s of training, then evaluation on the GPU"
run=results/paper_short_${gpu}
if [ -f "$throughput" ]; then
  timeout $(( 2 * RUN_SECONDS + 200 )) python3 scripts/time_boxed_run.py --run-dir "$run" --seconds "$RUN_SECONDS" \
    --throughput "$throughput" --runs ${RUN_NETWORKS:-audioslots_0.5s autoencoder_0.5s}
  tar --exclude='checkpoint*.pt' -cf "$OUT/results.tar" "$run"
fi

step "paper-preset training throughput (torch.compile), if time is left"
if (( $(date +%s) - start < ${COMPILE_IF_BEFORE:-330} )); then
  timeout 200 python3 -m benchmarks.train_throughput --preset paper --device cuda --steps 40 --warmup 10 --compile \
    --data data/real/Libri2Mix --out "$OUT/train_throughput_paper_${gpu}_compile.json"
fi
step "done"
