"""One tuning run: train the `cpu` preset with overrides (and the variants of patches.py) on the real-speech
mini Libri2Mix, then score oracle-order SI-SNRi on the first 40 test mixtures.

Usage, from the repository root: .venv/bin/python experiments/real_speech_stall/run.py NAME '{"steps": 400, ...}'
Appends one line to /tmp/exp/results.jsonl (copied here as runs.jsonl).
"""
import json, sys, time, math
from pathlib import Path
import torch
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
from torch import nn
from audioslots.config import get_preset, replace
from audioslots import model as Mo
from audioslots.training import loop as T
from audioslots.data.dataset import LibriMix
from audioslots.evaluation.scores import evaluate_checkpoint

name = sys.argv[1]; over = json.loads(sys.argv[2])
kind = over.pop("kind", "audioslots"); per_row = over.pop("per_row", False); n_eval = over.pop("n_eval", 40)
sys.path.insert(0, str(Path(__file__).parent)); import patches
axis = over.pop("axis", False)
if over.get("chunk_seconds") == 1.0: patches.CELLS[0] = 512
patches.apply(proj=per_row or None, axis=axis)
preset = replace(get_preset("cpu"), **over)
t0 = time.time()
r = T.train(preset, "data/real/Libri2Mix", f"/tmp/exp/{name}", kind=kind, progress=False)
t1 = time.time()
import csv
log = [row for row in csv.DictReader(open(f"/tmp/exp/{name}/log.csv"))]
curve = " ".join(f"{row['step']}:{float(row['loss']):.4f}" for row in log)
res = {}
if kind == "audioslots" and n_eval:
    ds = LibriMix("data/real/Libri2Mix", "test", max_mixtures=n_eval)
    m = evaluate_checkpoint(f"/tmp/exp/{name}/checkpoint.pt", ds, orders=("oracle",), progress=False)
    res = m.groupby("mask")["si_snri"].mean().round(2).to_dict()
out = {"name": name, "over": sys.argv[2], "loss": r.final_loss, "train_s": round(t1 - t0), **res, "curve": curve}
print(json.dumps(out), flush=True)
open("/tmp/exp/results.jsonl", "a").write(json.dumps(out) + "\n")
