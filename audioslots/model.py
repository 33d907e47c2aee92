"""The AudioSlots network: spectrogram → slots → spectrograms (paper, pipeline 2–3).

Data flow, with the shapes of the paper's 0.5 s setting::

    spectrogram               (batch, 257, 65)         compressed magnitude |X| ** 0.3
      crop to a multiple of 8 (batch, 256, 64)         no Nyquist bin, no last frame
      ResNetEncoder           (batch, 512, 32, 8)      root stride 1, total stride 8
      SlotTransformer         (batch, n_slots, 4096)   queries attend to the grid
      SpatialBroadcastDecoder (batch, n_slots, 257, 65)

Three small modules composed by :class:`AudioSlots`; the positional embeddings are pure functions.
The network is permutation-equivariant in its queries: the only per-slot parameters are the
learned queries themselves, so permuting them permutes the slots and the predicted spectrograms.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from audioslots.config import ModelConfig
from audioslots.errors import ConfigError

ENCODER_STRIDE = 8  # the ResNet maps 256 × 64 to the paper's 32 × 8 grid (paper, pipeline 1)
FOURIER_SEED = 0  # the random Fourier matrix is part of the model's definition, not of its training
GRID_EMBEDDING_MAX_FREQ = 64.0  # [choice] highest frequency (× π) of the encoder grid's sinusoids
#: How the slot transformer projects z to its width (``ModelConfig.feature_projection``).
FEATURE_PROJECTIONS = ("shared", "per_row", "per_cell")
#: Which axes each random Fourier frequency acts on (``ModelConfig.fourier_axes``).
FOURIER_AXES = ("mixed", "separate")
#: The width the slots keep through the slot transformer (``ModelConfig.slot_path``).
SLOT_PATHS = ("narrow", "wide")


def count_parameters(module: nn.Module) -> int:
    """Number of scalars in the parameters of ``module`` (works on the meta device too)."""
    return sum(p.numel() for p in module.parameters())


# ----------------------------------------------------------------------------------------------
# Positional embeddings (pure functions)


def fourier_matrix(
    n_features: int, scale: float, time_scale: float | None = None, axes: str = "mixed"
) -> torch.Tensor:
    """The random frequency matrix ``B`` of the decoder's Fourier features, drawn from ``FOURIER_SEED``.

    Args:
        n_features: rows of ``B``, one per random frequency.
        scale: standard deviation of the frequency column.
        time_scale: standard deviation of the time column (``None``: ``scale``).
        axes: ``"mixed"``, every row drawn from ``N(0, diag(scale², time_scale²))`` so that each
            feature varies along frequency and time (Tancik et al. 2020); ``"separate"``, the first
            half of the rows act on frequency only and the rest on time only (zeros elsewhere).

    Returns:
        ``(n_features, 2)`` on the CPU (also when a model is built on the meta device).
    """
    generator = torch.Generator().manual_seed(FOURIER_SEED)
    time_scale = scale if time_scale is None else time_scale
    if axes == "mixed":
        scales = torch.tensor([scale, time_scale], device="cpu")  # (frequency, time)
        return torch.randn(n_features, 2, generator=generator, device="cpu") * scales
    half = n_features // 2
    matrix = torch.zeros(n_features, 2, device="cpu")
    matrix[:half, 0] = torch.randn(half, generator=generator, device="cpu") * scale
    matrix[half:, 1] = torch.randn(n_features - half, generator=generator, device="cpu") * time_scale
    return matrix


def fourier_features(n_freq: int, n_frames: int, matrix: torch.Tensor) -> torch.Tensor:
    """Random Fourier features of the cells of an F × T grid (Tancik et al. 2020).

    With normalised coordinates ``v = (f / (F - 1), t / (T - 1))`` in ``[0, 1]^2`` and a
    frequency matrix ``B``, the embedding is ``[cos(2 pi B v), sin(2 pi B v)]``. Normalised
    coordinates make the same decoder usable on any grid (0.5 s and 1 s chunks).

    Args:
        n_freq: F, frequency bins of the output grid.
        n_frames: T, frames of the output grid.
        matrix: ``B``, shape ``(features, 2)``; column 0 multiplies the frequency coordinate,
            column 1 the time coordinate.

    Returns:
        ``(n_freq * n_frames, 2 * features)``, row ``f * n_frames + t`` for cell ``(f, t)``,
        on the device and in the dtype of ``matrix``.
    """
    freq = torch.linspace(0.0, 1.0, n_freq, device=matrix.device, dtype=matrix.dtype)  # (F,)
    frames = torch.linspace(0.0, 1.0, n_frames, device=matrix.device, dtype=matrix.dtype)  # (T,)
    coords = torch.stack(torch.meshgrid(freq, frames, indexing="ij"), dim=-1)  # (F, T, 2)
    # Elementwise product and sum rather than a matmul: autocast would run a matmul in bfloat16,
    # and angles of up to hundreds of radians would then be off by about one radian.
    angles = 2 * math.pi * (coords.reshape(-1, 1, 2) * matrix).sum(dim=-1)  # (F*T, features)
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)  # (F*T, 2*features)


def sinusoidal_grid_embedding(
    n_rows: int, n_cols: int, dim: int, *, device=None, dtype=None
) -> torch.Tensor:
    """Fixed 2-D sinusoidal embedding of the cells of the encoder's feature grid.

    A quarter of the channels are ``sin`` and a quarter ``cos`` of the row coordinate, the other
    half the same for the column coordinate, at ``dim / 4`` frequencies spaced geometrically from
    ``pi`` to ``GRID_EMBEDDING_MAX_FREQ * pi``. Coordinates are normalised to ``[0, 1]`` so that
    any grid size (32 × 8, 32 × 16) gets an embedding without learned, size-specific tables.

    Args:
        n_rows: rows of the grid (frequency cells).
        n_cols: columns of the grid (time cells).
        dim: embedding width; a multiple of 4.
        device: device of the result.
        dtype: dtype of the result.

    Returns:
        ``(n_rows * n_cols, dim)``, row ``r * n_cols + c`` for cell ``(r, c)``.
    """
    n_bands = dim // 4
    exponents = torch.arange(n_bands, device=device, dtype=torch.float32) / max(n_bands - 1, 1)
    omegas = math.pi * GRID_EMBEDDING_MAX_FREQ**exponents  # (dim/4,)
    rows = torch.linspace(0.0, 1.0, n_rows, device=device)[:, None] * omegas  # (R, dim/4)
    cols = torch.linspace(0.0, 1.0, n_cols, device=device)[:, None] * omegas  # (C, dim/4)
    rows = torch.cat([rows.sin(), rows.cos()], dim=-1)[:, None, :].expand(-1, n_cols, -1)
    cols = torch.cat([cols.sin(), cols.cos()], dim=-1)[None, :, :].expand(n_rows, -1, -1)
    embedding = torch.cat([rows, cols], dim=-1).reshape(n_rows * n_cols, dim)  # (R*C, dim)
    return embedding if dtype is None else embedding.to(dtype)


# ----------------------------------------------------------------------------------------------
# Encoder: ResNet-34 with a reduced-stride root (He et al. 2016; paper, pipeline 2)


def crop_to_stride(spectrogram: torch.Tensor) -> torch.Tensor:
    """``(batch, freq, frames)`` cropped to multiples of ``ENCODER_STRIDE`` in both axes.

    [choice] 257 × 65 → 256 × 64: the Nyquist bin and the last frame are dropped, so that stride 8
    gives exactly the 32 × 8 grid.
    """
    n_freq = spectrogram.shape[1] // ENCODER_STRIDE * ENCODER_STRIDE
    n_frames = spectrogram.shape[2] // ENCODER_STRIDE * ENCODER_STRIDE
    return spectrogram[:, :n_freq, :n_frames]  # (batch, freq8, frames8)


def encoder_grid(n_freq: int, n_frames: int) -> tuple[int, int]:
    """Rows × columns of the encoder's grid z for spectrograms of ``n_freq × n_frames`` (257 × 64 → 32 × 8)."""
    return n_freq // ENCODER_STRIDE, n_frames // ENCODER_STRIDE


class BasicBlock(nn.Module):
    """Two 3 × 3 convolutions with a residual connection (ResNet-18/34 block)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNetEncoder(nn.Module):
    """ResNet with BasicBlocks whose root keeps the input resolution.

    The ImageNet ResNet root (7 × 7 convolution with stride 2, then a stride-2 max-pool) divides
    the resolution by 4 before the first stage. The paper reduces that stride to keep spatial
    resolution; [choice] we drop the max-pool and, by default (``root_stride=1``), run the 7 × 7
    convolution at stride 1, so only stages 2–4 downsample (stride 2 each): total stride 8,
    256 × 64 → 32 × 8. With ``root_stride=2`` the root keeps its stride 2 and stage 4 does not
    downsample instead: the same 32 × 8 grid, with stage 1 at a quarter of the cells (the `cpu`
    preset uses this, since stage 1's backward pass at full resolution dominates a CPU step).
    Normalisation is BatchNorm, as in ResNet.

    Args:
        blocks: BasicBlocks per stage; four stages, ``(3, 4, 6, 3)`` is ResNet-34.
        width: channels of the first stage; stage ``k`` has ``width * 2**k``.
        in_channels: input channels (1: a magnitude spectrogram).
        root_stride: stride of the root convolution, 1 or 2 (the total stride is 8 either way).
    """

    def __init__(self, blocks: tuple[int, ...], width: int, in_channels: int = 1, root_stride: int = 1):
        super().__init__()
        self.root = nn.Sequential(
            nn.Conv2d(in_channels, width, 7, stride=root_stride, padding=3, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        # Total stride 8 either way: the downsampling the root does, stage 4 does not.
        stage_strides = {1: (1, 2, 2, 2), 2: (1, 2, 2, 1)}[root_stride]
        stages, channels = [], width
        for index, (n_blocks, stride) in enumerate(zip(blocks, stage_strides)):
            out_channels = width * 2**index
            layers = [BasicBlock(channels, out_channels, stride)]
            layers += [BasicBlock(out_channels, out_channels, 1) for _ in range(n_blocks - 1)]
            stages.append(nn.Sequential(*layers))
            channels = out_channels
        self.stages = nn.Sequential(*stages)
        self.out_channels = channels
        for module in self.modules():
            if isinstance(module, nn.Conv2d):  # He initialisation, as torchvision's ResNet
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(batch, channels_in, freq, frames)`` → ``(batch, channels, freq/8, frames/8)``."""
        return self.stages(self.root(images))


# ----------------------------------------------------------------------------------------------
# Slot transformer: learned queries, self- then cross-attention to z (paper, pipeline 2)


class Attention(nn.Module):
    """Multi-head attention of ``queries`` to ``context`` (keys and values are both ``context``).

    Args:
        dim: width of the queries and of the output.
        heads: attention heads.
        inner: width of the attention itself (``None``: ``dim``), a multiple of ``heads``.
        context_dim: width of the context (``None``: ``dim``).
    """

    def __init__(self, dim: int, heads: int, inner: int | None = None, context_dim: int | None = None):
        super().__init__()
        inner, context_dim = inner or dim, context_dim or dim
        self.heads, self.inner = heads, inner
        self.to_q = nn.Linear(dim, inner)
        self.to_k = nn.Linear(context_dim, inner)
        self.to_v = nn.Linear(context_dim, inner)
        self.proj = nn.Linear(inner, dim)

    def forward(self, queries: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """``(batch, n, dim)`` attending to ``(batch, m, context_dim)`` → ``(batch, n, dim)``."""
        batch, n, _ = queries.shape
        m, h, inner = context.shape[1], self.heads, self.inner
        q = self.to_q(queries).view(batch, n, h, inner // h).transpose(1, 2)  # (B, h, n, inner/h)
        k = self.to_k(context).view(batch, m, h, inner // h).transpose(1, 2)  # (B, h, m, inner/h)
        v = self.to_v(context).view(batch, m, h, inner // h).transpose(1, 2)  # (B, h, m, inner/h)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, h, n, inner/h)
        return self.proj(out.transpose(1, 2).reshape(batch, n, inner))  # (B, n, dim)

    def weights(self, queries: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """The softmax weights of :meth:`forward`, which its fused kernel does not return.

        ``(batch, n, dim)`` queries attending to ``(batch, m, context_dim)`` → ``(batch, heads, n, m)``.
        """
        batch, n, _ = queries.shape
        m, h, inner = context.shape[1], self.heads, self.inner
        q = self.to_q(queries).view(batch, n, h, inner // h).transpose(1, 2)  # (B, h, n, inner/h)
        k = self.to_k(context).view(batch, m, h, inner // h).transpose(1, 2)  # (B, h, m, inner/h)
        return (q @ k.transpose(-1, -2) / math.sqrt(inner // h)).softmax(-1)  # (B, h, n, m)


class SlotTransformerLayer(nn.Module):
    """Pre-LayerNorm layer: self-attention among the queries, cross-attention to z, then an MLP.

    Unlike the original transformer decoder, the paper describes no causal mask and no
    positional encoding of the queries, which keeps the layer permutation-equivariant.
    """

    def __init__(self, dim: int, heads: int, mlp_dim: int, attn_dim: int | None = None):
        super().__init__()
        attn_dim = attn_dim or dim
        self.norm_self = nn.LayerNorm(dim)
        self.self_attn = Attention(dim, heads, inner=attn_dim)
        self.norm_cross = nn.LayerNorm(dim)
        self.cross_attn = Attention(dim, heads, inner=attn_dim, context_dim=attn_dim)
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Queries ``(batch, n, dim)``, grid ``(batch, cells, attn_dim)`` → ``(batch, n, dim)``."""
        h = self.norm_self(x)
        x = x + self.self_attn(h, h)
        x = x + self.cross_attn(self.norm_cross(x), z)
        return x + self.mlp(self.norm_mlp(x))


class GridLinear(nn.Module):
    """A linear map of the encoder's grid with its own weights per frequency row, or per cell.

    Weights are drawn from ``N(0, 1 / in_features)`` and biases start at zero.

    Args:
        in_features: channels of each cell.
        out_features: width of each cell's output.
        rows: rows (frequency cells) of the grid.
        cols: columns (time cells) of the grid for one map per cell; ``None`` for one map per row,
            shared by the row's cells (any number of columns).
    """

    def __init__(self, in_features: int, out_features: int, rows: int, cols: int | None = None):
        super().__init__()
        self.rows, self.cols = rows, cols
        per_cell = () if cols is None else (cols,)
        weight = torch.randn(rows, *per_cell, in_features, out_features) / math.sqrt(in_features)
        self.weight = nn.Parameter(weight)  # (rows, [cols,] in, out)
        self.bias = nn.Parameter(torch.zeros(rows, *per_cell, out_features))  # (rows, [cols,] out)

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        """``(batch, rows, cols, in_features)`` → ``(batch, rows, cols, out_features)``.

        Raises:
            ConfigError: if the grid is not the size the maps were made for.
        """
        rows, cols = grid.shape[1:3]
        if rows != self.rows or (self.cols is not None and cols != self.cols):
            built = f"{self.rows} rows" if self.cols is None else f"a {self.rows} × {self.cols} grid"
            raise ConfigError(
                f"The slot transformer's per-{'row' if self.cols is None else 'cell'} projection was "
                f"made for {built} but the encoder gave {rows} × {cols}: set ModelConfig.feature_grid "
                f"to encoder_grid(frequency bins, frames) of the chunks."
            )
        if self.cols is None:
            return torch.einsum("brci,rio->brco", grid, self.weight) + self.bias[:, None]
        return torch.einsum("brci,rcio->brco", grid, self.weight) + self.bias


class SlotTransformer(nn.Module):
    """Maps the encoder's feature grid z to ``n_slots`` slot vectors.

    The initial queries are learned (as in DETR) and live in ``R^slot_dim`` (4096 in the paper).
    [choice] Attention runs at a narrower width ``attn_dim``: the queries are projected
    ``slot_dim → attn_dim``, z is projected ``channels → attn_dim`` and gets a fixed 2-D
    sinusoidal embedding of its grid cell, and the output is projected back to ``slot_dim``.

    Args:
        n_slots: number of queries = number of sources.
        slot_dim: d, width of the queries and of the slots.
        feature_dim: channels of the encoder's feature grid.
        attn_dim: width of the attention and MLP residual stream; a multiple of 4 and of ``heads``.
        heads: attention heads.
        mlp_dim: hidden width of each layer's MLP.
        layers: transformer layers (4 in the paper).
        feature_projection: ``"shared"``, one linear map ``channels → attn_dim`` for every cell;
            ``"per_row"`` or ``"per_cell"``, a :class:`GridLinear` with one per frequency row or
            per cell, so that even near-uniform attention reads a linear summary of the whole
            grid rather than its average feature.
        feature_grid: ``(rows, cols)`` of z that the per-row and per-cell maps are made for.
        slot_path: ``"narrow"``, the queries are projected to ``attn_dim`` and the residual stream
            runs at that width (a slot's rank is at most ``attn_dim``); ``"wide"``, the queries and
            the residual stream stay ``slot_dim`` wide, and each attention projects to ``attn_dim``
            inside itself (the MLP runs at ``slot_dim → mlp_dim → slot_dim``).
    """

    def __init__(
        self,
        n_slots: int,
        slot_dim: int,
        feature_dim: int,
        attn_dim: int,
        heads: int,
        mlp_dim: int,
        layers: int,
        feature_projection: str = "shared",
        feature_grid: tuple[int, int] = (32, 8),
        slot_path: str = "narrow",
    ):
        super().__init__()
        if slot_path not in SLOT_PATHS:
            raise ConfigError(f"Unknown slot_path {slot_path!r}: choose one of {', '.join(SLOT_PATHS)}.")
        self.slot_path = slot_path
        # Distinct random queries break the symmetry between slots; N(0, 1) as DETR's nn.Embedding.
        self.queries = nn.Parameter(torch.randn(n_slots, slot_dim))
        wide = slot_path == "wide"
        self.query_proj = nn.Identity() if wide else nn.Linear(slot_dim, attn_dim)
        self.feature_projection = feature_projection
        rows, cols = feature_grid
        if feature_projection == "shared":
            self.feature_proj = nn.Linear(feature_dim, attn_dim)
        elif feature_projection == "per_row":
            self.feature_proj = GridLinear(feature_dim, attn_dim, rows)
        elif feature_projection == "per_cell":
            self.feature_proj = GridLinear(feature_dim, attn_dim, rows, cols)
        else:
            raise ConfigError(f"Unknown feature_projection {feature_projection!r}: choose one of "
                              f"{', '.join(FEATURE_PROJECTIONS)}.")
        self.feature_norm = nn.LayerNorm(attn_dim)
        stream = slot_dim if wide else attn_dim
        self.layers = nn.ModuleList(
            SlotTransformerLayer(stream, heads, mlp_dim, attn_dim) for _ in range(layers)
        )
        self.norm = nn.LayerNorm(stream)
        self.slot_proj = nn.Identity() if wide else nn.Linear(attn_dim, slot_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Features ``(batch, channels, rows, cols)`` → slots ``(batch, n_slots, slot_dim)``."""
        batch, _, n_rows, n_cols = features.shape
        z = self.project_features(features)  # (B, rows*cols, attn_dim)
        z = z + sinusoidal_grid_embedding(
            n_rows, n_cols, z.shape[-1], device=z.device, dtype=z.dtype
        )  # (B, rows*cols, attn_dim), the same for every item
        z = self.feature_norm(z)  # keys = values = z in every layer, normalised once
        x = self.query_proj(self.queries)  # (n_slots, stream width)
        # The wide path copies its queries per item: a view of a parameter made under no_grad (as
        # FLOP counting runs it) has no autograd node, which torch's module tracker cannot follow.
        x = x.repeat(batch, 1, 1) if self.slot_path == "wide" else x.expand(batch, -1, -1)  # (B, n_slots, width)
        for layer in self.layers:
            x = layer(x, z)
        return self.slot_proj(self.norm(x))  # (B, n_slots, slot_dim)

    def project_features(self, features: torch.Tensor) -> torch.Tensor:
        """The grid ``(batch, channels, rows, cols)`` → one token per cell ``(batch, rows*cols, attn_dim)``.

        Cells in row-major order: token ``r * cols + c`` is cell ``(r, c)``.
        """
        tokens = features.flatten(2).transpose(1, 2)  # (B, rows*cols, channels)
        if self.feature_projection == "shared":
            return self.feature_proj(tokens)  # (B, rows*cols, attn_dim)
        grid = tokens.unflatten(1, features.shape[-2:])  # (B, rows, cols, channels)
        return self.feature_proj(grid).flatten(1, 2)  # (B, rows*cols, attn_dim)


# ----------------------------------------------------------------------------------------------
# Spatial broadcast decoder (Watters et al. 2019; paper, pipeline 3)


class SpatialBroadcastDecoder(nn.Module):
    """Shared MLP of [slot ; Fourier features of (f, t)] → one value per cell, for every slot.

    [choice] ``layers`` linear layers with ReLU between them; the last maps to one value with no
    final non-linearity: the target is a compressed magnitude and the loss an MSE, and negative
    predictions are clamped to zero where the separation code decompresses them.

    The first layer is one ``nn.Linear(slot_dim + e, hidden)``. Applied to the concatenation
    ``[s_i ; pe(f, t)]`` it equals ``W_s s_i + W_p pe(f, t) + b``; ``factorised=True`` computes
    the two terms once per slot and once per cell and adds them by broadcasting (exact, and it
    never materialises the ``(batch, n, F*T, d + e)`` tensor of the plain form).

    Args:
        slot_dim: d, width of the slots.
        fourier_features: number of random frequencies; the embedding has ``e = 2 *`` that many.
        fourier_scale: standard deviation of the random frequency matrix ``B``.
        hidden: width of the hidden layers.
        layers: linear layers, including the first and the output layer (at least 2).
        factorised: compute the first layer in the factorised form.
        fourier_time_scale: standard deviation of ``B``'s time column (``None``: ``fourier_scale``).
        fourier_axes: ``"mixed"`` or ``"separate"``, see :func:`fourier_matrix`.
    """

    def __init__(
        self,
        slot_dim: int,
        fourier_features: int,
        fourier_scale: float,
        hidden: int,
        layers: int,
        factorised: bool = True,
        fourier_time_scale: float | None = None,
        fourier_axes: str = "mixed",
    ):
        super().__init__()
        self.factorised = factorised
        matrix = fourier_matrix(fourier_features, fourier_scale, fourier_time_scale, fourier_axes)
        self.register_buffer("fourier_matrix", matrix)  # (fourier_features, 2)
        self.first = nn.Linear(slot_dim + 2 * fourier_features, hidden)
        self.hidden = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers - 2))
        self.out = nn.Linear(hidden, 1)

    def first_layer_plain(self, slots: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Broadcast, concatenate, then the first linear layer (as the paper describes it).

        Args:
            slots: ``(batch, n, d)``.
            positions: ``(cells, e)`` Fourier features.

        Returns:
            ``(batch, n, cells, hidden)``, before the non-linearity.
        """
        batch, n, d = slots.shape
        cells, e = positions.shape
        grid = torch.cat(
            [slots[:, :, None, :].expand(batch, n, cells, d), positions.expand(batch, n, cells, e)],
            dim=-1,
        )  # (B, n, cells, d+e)
        return self.first(grid)  # (B, n, cells, hidden)

    def first_layer_factorised(self, slots: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """The same first layer as ``W_s s_i + (W_p pe + b)``, summed by broadcasting.

        Args:
            slots: ``(batch, n, d)``.
            positions: ``(cells, e)`` Fourier features.

        Returns:
            ``(batch, n, cells, hidden)``, equal to :meth:`first_layer_plain` up to rounding.
        """
        d = slots.shape[-1]
        per_slot = F.linear(slots, self.first.weight[:, :d])  # (B, n, hidden)
        per_cell = F.linear(positions, self.first.weight[:, d:], self.first.bias)  # (cells, hidden)
        return per_slot[:, :, None, :] + per_cell  # (B, n, cells, hidden)

    def first_layer(self, slots: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """:meth:`first_layer_factorised` or :meth:`first_layer_plain`, per ``self.factorised``."""
        if self.factorised:
            return self.first_layer_factorised(slots, positions)
        return self.first_layer_plain(slots, positions)

    def forward(
        self, slots: torch.Tensor, n_freq: int, n_frames: int, cells: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Slots ``(batch, n, d)`` → spectrograms ``(batch, n, n_freq, n_frames)``.

        ``cells`` (indices ``f * n_frames + t``) decodes only those cells of the grid and returns
        ``(batch, n, len(cells), 1)``: a coordinate-based decoder needs no other cell to do so.
        """
        batch, n, _ = slots.shape
        positions = fourier_features(n_freq, n_frames, self.fourier_matrix)  # (F*T, e)
        if cells is None and self.factorised and slots.device.type == "cpu" and not torch.is_grad_enabled():
            return self._decode_in_tiles(slots, positions).view(batch, n, n_freq, n_frames)
        if cells is not None:
            positions = positions[cells]  # (K, e)
        h = F.relu(self.first_layer(slots, positions))  # (B, n, cells, hidden)
        for layer in self.hidden:
            h = F.relu(layer(h))  # (B, n, cells, hidden)
        if cells is not None:
            return self.out(h)  # (B, n, K, 1)
        return self.out(h).view(batch, n, n_freq, n_frames)  # (B, n, F, T)


    #: Cells per tile when the full grid is decoded for inference on the CPU (a tile's activation
    #: of 4096 × 128 floats, 2 MiB, stays in cache).
    CPU_TILE_CELLS = 4096

    def _decode_in_tiles(self, slots: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """The full-grid forward pass for inference on the CPU: ``(batch, n, d)`` → ``(batch, n, cells)``.

        The same arithmetic as the batched form (equal up to float rounding; bit for bit with the
        BLAS of our CPU machines), one slot and ``CPU_TILE_CELLS`` cells at a time with in-place ReLUs. The
        batched form's ``(batch, n, cells, hidden)`` activations (over 1 GB for 64 chunks of the
        ``cpu`` preset) are allocated and paged in afresh by every layer; tiles are reused from
        the cache, which makes evaluation on 2 cores about 3.5× faster (see
        ``python -m benchmarks.evaluate_speed``).
        """
        d = slots.shape[-1]
        per_slot = F.linear(slots, self.first.weight[:, :d]).flatten(0, 1)  # (B*n, hidden)
        per_cell = F.linear(positions, self.first.weight[:, d:], self.first.bias)  # (cells, hidden)
        out = slots.new_empty(per_slot.shape[0], per_cell.shape[0])  # (B*n, cells)
        for row in range(per_slot.shape[0]):
            for start in range(0, per_cell.shape[0], self.CPU_TILE_CELLS):
                h = (per_slot[row] + per_cell[start:start + self.CPU_TILE_CELLS]).relu_()  # (tile, hidden)
                for layer in self.hidden:
                    h = layer(h).relu_()
                out[row, start:start + h.shape[0]] = self.out(h)[:, 0]
        return out


# ----------------------------------------------------------------------------------------------
# The model


class AudioSlots(nn.Module):
    """Mixture spectrogram → ``n_slots`` source spectrograms, in no particular order.

    The autoencoder baseline of Table 1 is this class with ``n_slots=1``, fed a single source.

    Args:
        config: the network's sizes (:class:`~audioslots.config.ModelConfig`).

    Raises:
        ConfigError: if the sizes cannot build the network.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        _check_config(config)
        self.config = config
        self.encoder = ResNetEncoder(config.resnet_blocks, config.resnet_width, root_stride=config.root_stride)
        self.transformer = SlotTransformer(
            n_slots=config.n_slots,
            slot_dim=config.slot_dim,
            feature_dim=self.encoder.out_channels,
            attn_dim=config.attn_dim,
            heads=config.attn_heads,
            mlp_dim=config.mlp_dim,
            layers=config.transformer_layers,
            feature_projection=config.feature_projection,
            feature_grid=config.feature_grid,
            slot_path=config.slot_path,
        )
        self.decoder = SpatialBroadcastDecoder(
            slot_dim=config.slot_dim,
            fourier_features=config.fourier_features,
            fourier_scale=config.fourier_scale,
            fourier_time_scale=config.fourier_time_scale,
            hidden=config.decoder_hidden,
            layers=config.decoder_layers,
            factorised=config.factorised_decoder,
            fourier_axes=config.fourier_axes,
        )

    def encoder_features(self, spectrogram: torch.Tensor) -> torch.Tensor:
        """The ResNet feature grid z of a batch of spectrograms, cropped by :func:`crop_to_stride`.

        Args:
            spectrogram: ``(batch, freq, frames)`` compressed magnitudes, at least 8 × 8.

        Returns:
            ``(batch, channels, freq // 8, frames // 8)``.

        Raises:
            ConfigError: if the input is not 3-D or smaller than 8 × 8.
        """
        _check_input(spectrogram)
        images = crop_to_stride(spectrogram)[:, None]  # (B, 1, F8, T8)
        return self.encoder(images)  # (B, channels, F8/8, T8/8)

    def encode(self, spectrogram: torch.Tensor) -> torch.Tensor:
        """``(batch, freq, frames)`` → slots ``(batch, n_slots, slot_dim)``."""
        return self.transformer(self.encoder_features(spectrogram))

    def decode(self, slots: torch.Tensor, n_freq: int, n_frames: int) -> torch.Tensor:
        """Slots ``(batch, n, slot_dim)`` → spectrograms ``(batch, n, n_freq, n_frames)``."""
        return self.decoder(slots, n_freq, n_frames)

    def forward(self, spectrogram: torch.Tensor, cells: torch.Tensor | None = None) -> torch.Tensor:
        """``(batch, freq, frames)`` → ``(batch, n_slots, freq, frames)`` on the same grid.

        With ``cells`` (flat indices into the grid) only those are decoded: ``(batch, n_slots, K, 1)``.
        """
        _check_input(spectrogram)
        slots = self.encode(spectrogram)
        return self.decoder(slots, spectrogram.shape[1], spectrogram.shape[2], cells)


def _check_config(config: ModelConfig) -> None:
    problems = []
    if config.n_slots < 1:
        problems.append(f"n_slots={config.n_slots} must be at least 1")
    if len(config.resnet_blocks) != 4 or min(config.resnet_blocks) < 1:
        problems.append(
            f"resnet_blocks={config.resnet_blocks} must list four stages of at least one block "
            "each (the total stride 8 needs exactly four)"
        )
    if config.root_stride not in (1, 2):
        problems.append(f"root_stride={config.root_stride} must be 1 or 2 (the total stride is 8)")
    if config.attn_dim % config.attn_heads or config.attn_dim % 4:
        problems.append(
            f"attn_dim={config.attn_dim} must be a multiple of 4 and of "
            f"attn_heads={config.attn_heads}"
        )
    if config.decoder_layers < 2:
        problems.append(f"decoder_layers={config.decoder_layers} must be at least 2")
    if config.feature_projection not in FEATURE_PROJECTIONS:
        problems.append(f"feature_projection={config.feature_projection!r} must be one of {', '.join(FEATURE_PROJECTIONS)}")
    if len(config.feature_grid) != 2 or min(config.feature_grid) < 1:
        problems.append(f"feature_grid={config.feature_grid} must be (rows, columns) of the encoder's grid")
    if config.slot_path not in SLOT_PATHS:
        problems.append(f"slot_path={config.slot_path!r} must be one of {', '.join(SLOT_PATHS)}")
    if config.fourier_axes not in FOURIER_AXES:
        problems.append(f"fourier_axes={config.fourier_axes!r} must be one of {', '.join(FOURIER_AXES)}")
    if problems:
        raise ConfigError(f"Invalid ModelConfig: {'; '.join(problems)}.")


def _check_input(spectrogram: torch.Tensor) -> None:
    if spectrogram.ndim != 3:
        raise ConfigError(
            f"AudioSlots expects spectrograms shaped (batch, freq, frames) but got shape "
            f"{tuple(spectrogram.shape)}: add or remove a batch dimension."
        )
    if spectrogram.shape[1] < ENCODER_STRIDE or spectrogram.shape[2] < ENCODER_STRIDE:
        raise ConfigError(
            f"AudioSlots needs spectrograms of at least {ENCODER_STRIDE} × {ENCODER_STRIDE} "
            f"(freq × frames) for its stride-8 encoder but got {spectrogram.shape[1]} × "
            f"{spectrogram.shape[2]}: use longer chunks or a larger FFT."
        )
