"""Can the `cpu` preset's decoder represent real speech? Fit 64 source spectrograms (32 training crops x 2
sources) from free, learned per-item slots (no encoder), 600 steps, 5 % of the cells per step.

Usage, from the repository root: .venv/bin/python experiments/real_speech_stall/decoder_capacity.py '{}'
Prints the sampled-cell loss and the full-grid MSE every 100 steps (collected in decoder_capacity.csv).
"""
import sys, json, time, torch
torch.set_num_threads(1); torch.manual_seed(0)
from audioslots.config import get_preset, replace
from audioslots.model import SpatialBroadcastDecoder
from audioslots.training import CropBatches
from audioslots.data.dataset import LibriMix
from audioslots.features import spectrogram
over = json.loads(sys.argv[1]) if len(sys.argv)>1 else {}
lr = over.pop("lr", 5e-3); steps = over.pop("steps", 600)
p = replace(get_preset("cpu"), **over); fc=p.features; mc=p.model
ds = LibriMix("data/real/Libri2Mix", "train-360")
mix, src = CropBatches(ds, 32, fc.chunk_samples, 0, "audioslots")[0]
Y = spectrogram(src.flatten(0,1), fc)[:, None]   # (64,1,F,T)
N = Y.shape[0]
dec = SpatialBroadcastDecoder(mc.slot_dim, mc.fourier_features, mc.fourier_scale, mc.decoder_hidden, mc.decoder_layers, True, mc.fourier_time_scale)
lat = torch.nn.Parameter(torch.randn(N, 1, mc.slot_dim))
opt = torch.optim.Adam(list(dec.parameters())+[lat], lr)
F_, T_ = Y.shape[-2:]
t0=time.time()
for s in range(steps):
    cells = torch.randperm(F_*T_)[: int(0.05*F_*T_)]
    out = dec(torch.nn.functional.layer_norm(lat, (mc.slot_dim,)), F_, T_, cells)
    loss = (out - Y.flatten(2)[..., cells][..., None]).square().mean()
    opt.zero_grad(); loss.backward(); opt.step()
    if s % 100 == 99 or s == steps-1:
        with torch.no_grad():
            full = dec(torch.nn.functional.layer_norm(lat, (mc.slot_dim,)), F_, T_)
            print(s+1, round(loss.item(),4), "full", round((full-Y).square().mean().item(),4), flush=True)
print(sys.argv[1:], "time", round(time.time()-t0))
