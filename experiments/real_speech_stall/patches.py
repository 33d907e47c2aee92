"""Variants of the library's model for tuning experiments, patched class-wide (so load_model builds them too).

proj="row": the encoder grid z is projected to the attention width by one linear map per frequency
row (32), "cell": one per grid cell (CELLS[0] cells: 256 for 0.5 s). With near-uniform attention a
slot then reads a linear summary of the whole grid, not just its average feature.
axis=True: half of the decoder's random Fourier frequencies act on frequency only, half on time
only (the preset's draw mixes both axes in every feature).
"""
import math, torch
from torch import nn
from audioslots import model as Mo

def apply(proj=None, axis=False):
    if proj:
        class PerPos(nn.Module):
            def __init__(self, cin, cout, n):
                super().__init__()
                self.weight = nn.Parameter(torch.randn(n, cin, cout) / math.sqrt(cin)); self.bias = nn.Parameter(torch.zeros(n, cout))
            def forward(self, x):  # (B, R*C, cin), row-major
                B, N, cin = x.shape
                if proj == "row":
                    R = self.weight.shape[0]; x = x.view(B, R, N // R, cin)
                    return (torch.einsum("brci,rio->brco", x, self.weight) + self.bias[None, :, None]).reshape(B, N, -1)
                return torch.einsum("bni,nio->bno", x, self.weight) + self.bias
        orig = Mo.SlotTransformer.__init__
        def init(self, *a, **k):
            orig(self, *a, **k)
            n = 32 if proj == "row" else CELLS[0]
            self.feature_proj = PerPos(self.feature_proj.in_features, self.feature_proj.out_features, n)
        Mo.SlotTransformer.__init__ = init
    if axis:
        orig_d = Mo.SpatialBroadcastDecoder.__init__
        def dinit(self, slot_dim, fourier_features, fourier_scale, hidden, layers, factorised=True, fourier_time_scale=None):
            orig_d(self, slot_dim, fourier_features, fourier_scale, hidden, layers, factorised, fourier_time_scale)
            g = torch.Generator().manual_seed(0); k = fourier_features // 2
            mat = torch.zeros(fourier_features, 2)
            mat[:k, 0] = torch.randn(k, generator=g) * fourier_scale
            mat[k:, 1] = torch.randn(fourier_features - k, generator=g) * (fourier_time_scale or fourier_scale)
            self.fourier_matrix.copy_(mat)
        Mo.SpatialBroadcastDecoder.__init__ = dinit

CELLS = [256]
