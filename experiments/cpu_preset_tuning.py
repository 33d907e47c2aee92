"""Tuning experiment: train AudioSlots with overrides on real speech, score oracle-order SI-SNRi on the first N test mixtures."""
import json, sys, time
import numpy as np, torch
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
from audioslots.config import get_preset, replace
from audioslots.training import loop as T
from audioslots.data.dataset import LibriMix
from audioslots.evaluation.scores import evaluate_checkpoint

name = sys.argv[1]
over = json.loads(sys.argv[2])
dyn = over.pop("dynamic_mixing", 0.0)
kind = over.pop("kind", "audioslots")
data = over.pop("data", "data/real/Libri2Mix")
preset = replace(get_preset("cpu"), **over)

if dyn:
    base = T.CropBatches.__getitem__
    def getitem(self, step):
        rng = np.random.default_rng([self.seed, step, 7])
        if rng.random() >= dyn:
            return base(self, step)
        ds = self.dataset
        ids = ds.mixture_ids
        n = ds.n_src
        mix, srcs = [], []
        for b in range(self.batch_size):
            speakers, parts = set(), []
            while len(parts) < n:
                i = int(rng.integers(len(ds))); k = int(rng.integers(n))
                spk = ids[i].split("_")[k].split("-")[0]
                if spk in speakers: continue
                speakers.add(spk)
                spare = max(self.lengths[i] - self.crop_samples, 0)
                o = int(rng.random() * (spare + 1))
                s = ds.crop(i, o, self.crop_samples).sources[k]
                parts.append(s * 10 ** (rng.uniform(-3, 3) / 20))
            s = torch.stack(parts); srcs.append(s); mix.append(s.sum(0))
        mixtures, sources = torch.stack(mix), torch.stack(srcs)
        if self.kind == "autoencoder":
            single = sources.flatten(0, 1); return single, single[:, None]
        return mixtures, sources
    T.CropBatches.__getitem__ = getitem

t0 = time.time()
r = T.train(preset, data, f"/tmp/exp/{name}", kind=kind, progress=False)
t1 = time.time()
ds = LibriMix(data, "test", max_mixtures=int(over.get("_n", 40)) if False else 40)
m = evaluate_checkpoint(f"/tmp/exp/{name}/checkpoint.pt", ds, orders=("oracle",), progress=False)
res = m.groupby("mask")["si_snri"].mean().round(2).to_dict()
print(json.dumps({"name": name, "over": sys.argv[2], "loss": r.final_loss, "train_s": round(t1 - t0), **res}), flush=True)
open("/tmp/exp/results.jsonl", "a").write(json.dumps({"name": name, "over": sys.argv[2], "loss": r.final_loss, "train_s": round(t1 - t0), **res}) + "\n")
