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
#
# The time-boxed run fills RUN_SECONDS per network at the eager throughput measured first, or, with
# RUN_STEPS set, trains that many steps without measuring (COMPILE=1: under torch.compile; RUN_LIMIT:
# the seconds it may take in all, training and scoring, before it is stopped and its folder kept as far
# as it got). A longer run of both networks, compiled, with a learning curve of 5 points each:
#
#   SKIP_TESTS=1 RUN_STEPS=2000 COMPILE=1 CURVE_POINTS=5 RUN_DIR=results/paper_h200_2000steps \
#     COMPILE_IF_BEFORE=0 AUDIOSLOTS_SOURCE_COMMIT=... OUT=... bash scripts/gpu_check.sh
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

run=${RUN_DIR:-results/paper_short_${gpu}}
throughput=$OUT/train_throughput_paper_${gpu}.json
if [ -n "${RUN_STEPS:-}" ]; then
  plan=(--steps "$RUN_STEPS")
  limit=${RUN_LIMIT:-600}
else
  step "paper-preset training throughput (eager)"
  timeout 240 python3 -m benchmarks.train_throughput --preset paper --device cuda --steps 40 --warmup 5 \
    --data data/real/Libri2Mix --out "$throughput"
  plan=(--seconds "$RUN_SECONDS" --throughput "$throughput")
  limit=${RUN_LIMIT:-$(( 2 * RUN_SECONDS + 200 ))}
fi

step "time-boxed paper-preset run into $run (${plan[*]}), then evaluation on the GPU"
if [ -n "${RUN_STEPS:-}" ] || [ -f "$throughput" ]; then
  timeout "$limit" python3 scripts/time_boxed_run.py --run-dir "$run" "${plan[@]}" \
    ${COMPILE:+--compile} --curve-points "${CURVE_POINTS:-3}" --runs ${RUN_NETWORKS:-audioslots_0.5s autoencoder_0.5s}
  tar --exclude='checkpoint*.pt' -cf "$OUT/results.tar" "$run"
fi

step "paper-preset training throughput (torch.compile), if time is left"
if (( $(date +%s) - start < ${COMPILE_IF_BEFORE:-330} )); then
  timeout 200 python3 -m benchmarks.train_throughput --preset paper --device cuda --steps 40 --warmup 10 --compile \
    --data data/real/Libri2Mix --out "$OUT/train_throughput_paper_${gpu}_compile.json"
fi
step "done"
