"""Which part of the autoencoder's path limits it? 300 steps of the `cpu` preset's schedule, batch 16 crops.

Usage, from the repository root: .venv/bin/python experiments/real_speech_stall/information_path.py VARIANT 300
Prints the mean training loss of every 50 steps (collected in information_path.csv). VARIANT is a
base with optional suffixes:
  full   the autoencoder as the library builds it (n_slots=1)
  flat   the library's ResNet, then the flattened 32 x 8 grid -> Linear -> LayerNorm -> decoder (no transformer)
  raw    the spectrogram itself -> Linear -> LayerNorm -> decoder (no network before the slot)
  _narrow  (flat) a 64-wide linear bottleneck before the slot
  _row, _cell  (full) z projected per frequency row / per grid cell (patches.py) instead of one shared projection
  _axis  Fourier features that each depend on frequency only or on time only (patches.py)
  _skip  the slot also added (through its own linear map) to every hidden layer of the decoder
  _w128  attention width 128, MLP 256, 8 heads
"""
import sys, time, math, torch, numpy as np
from torch import nn
torch.set_num_threads(1); torch.manual_seed(0)
from audioslots.config import get_preset
from audioslots.model import AudioSlots, SpatialBroadcastDecoder
from audioslots.training import CropBatches, decoded_cells, learning_rate
from audioslots.data.dataset import LibriMix
from audioslots.features import spectrogram
variant = sys.argv[1]; steps = int(sys.argv[2]) if len(sys.argv) > 2 else 400
p = get_preset("cpu"); fc = p.features; mc = p.model
import dataclasses
tc = dataclasses.replace(p.train, steps=steps)
ds = LibriMix("data/real/Libri2Mix", "train-360")
cb = CropBatches(ds, 16, fc.chunk_samples, 0, "autoencoder")
full = AudioSlots(dataclasses.replace(mc, n_slots=1))
class Flat(nn.Module):
    def __init__(s):
        super().__init__(); s.enc = full.encoder; s.dec = full.decoder
        s.lin = nn.Linear(32*32*8, mc.slot_dim) if not narrow else nn.Sequential(nn.Linear(32*32*8, 64), nn.Linear(64, mc.slot_dim))
    def forward(s, X, cells):
        f = s.enc(X[:, None, :256, :64]).flatten(1)
        return s.dec(nn.functional.layer_norm(s.lin(f), (mc.slot_dim,))[:, None], X.shape[1], X.shape[2], cells)
class Raw(nn.Module):
    def __init__(s):
        super().__init__(); s.lin = nn.Linear(256*64, mc.slot_dim); s.dec = full.decoder
    def forward(s, X, cells):
        return s.dec(nn.functional.layer_norm(s.lin(X[:, :256, :64].flatten(1)), (mc.slot_dim,))[:, None], X.shape[1], X.shape[2], cells)
class Full(nn.Module):
    def __init__(s): super().__init__(); s.m = full
    def forward(s, X, cells): return s.m(X, cells)
narrow = "_narrow" in variant; variant = variant.replace("_narrow", "")
import dataclasses as dc
for w in ("_w128", "_w256"):
    if w in variant:
        variant = variant.replace(w, ""); aw = int(w[2:]); mc = dc.replace(mc, attn_dim=aw, mlp_dim=2*aw, attn_heads=8); full = AudioSlots(dc.replace(mc, n_slots=1))
proj = None
for suf in ("_row", "_cell"):
    if suf in variant: proj = suf[1:]; variant = variant.replace(suf, "")
if proj:
    ncell = 32 if proj == "row" else 256
    class PerRow(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(ncell, cin, cout) / math.sqrt(cin)); self.bias = nn.Parameter(torch.zeros(ncell, cout))
        def forward(self, x):
            B, N, cin = x.shape; R = ncell; C = N // R
            x = x.view(B, R, C, cin)
            return (torch.einsum("brci,rio->brco", x, self.weight) + self.bias[None, :, None]).reshape(B, N, -1)
    tr = full.transformer  # the same per-position projection as patches.py
    tr.feature_proj = PerRow(tr.feature_proj.in_features, tr.feature_proj.out_features)
axis = variant.endswith("_axis"); variant = variant.replace("_axis", "")
if axis:
    g = torch.Generator().manual_seed(0); k = mc.fourier_features // 2
    mat = torch.zeros(mc.fourier_features, 2)
    mat[:k, 0] = torch.randn(k, generator=g) * mc.fourier_scale
    mat[k:, 1] = torch.randn(mc.fourier_features - k, generator=g) * (mc.fourier_time_scale or mc.fourier_scale)
    full.decoder.fourier_matrix.copy_(mat)
skip = variant.endswith("_skip"); variant = variant.replace("_skip", "")
if skip:
    import torch.nn.functional as F
    from audioslots.model import fourier_features
    dec = full.decoder
    dec.mods = nn.ModuleList(nn.Linear(mc.slot_dim, mc.decoder_hidden, bias=False) for _ in dec.hidden)
    for mod in dec.mods: nn.init.zeros_(mod.weight)
    def fwd(slots, n_freq, n_frames, cells=None):
        positions = fourier_features(n_freq, n_frames, dec.fourier_matrix)[cells]
        h = F.relu(dec.first_layer(slots, positions))
        for layer, mod in zip(dec.hidden, dec.mods):
            h = F.relu(layer(h) + mod(slots)[:, :, None, :])
        return dec.out(h)
    dec.forward = fwd
net = {"flat": Flat, "raw": Raw, "full": Full}[variant]()
opt = torch.optim.Adam(net.parameters(), tc.learning_rate)
t0 = time.time(); acc = []
for step in range(steps):
    for g in opt.param_groups: g["lr"] = learning_rate(step, tc)
    x, y = cb[step]; X = spectrogram(x, fc); Y = spectrogram(y, fc)
    cells = decoded_cells(step, X.shape[1:], tc, "cpu")
    out = net(X, cells)
    loss = (out - Y.flatten(2)[..., cells][..., None]).square().mean()
    opt.zero_grad(); loss.backward(); opt.step(); acc.append(loss.item())
    if (step + 1) % 50 == 0: print(step + 1, round(float(np.mean(acc)), 4), flush=True); acc = []
print(variant, "time", round(time.time() - t0))
