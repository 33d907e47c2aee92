"""Plain vs factorised first layer of the spatial broadcast decoder, timed in one run.

The decoder's first linear layer acts on ``[s_i ; pe(f, t)]`` for every slot and grid cell. The
plain form materialises that ``(batch, n, F*T, d + e)`` concatenation; the factorised form
computes ``W_s s_i`` once per slot and ``W_p pe(f, t) + b`` once per cell and adds them by
broadcasting (paper, pipeline 3, our note there). Both forms run here on the same decoder and inputs: the
script checks that they agree, then prints their times, the speed-up and the peak memory.

Usage, from the repository root::

    .venv/bin/python -m benchmarks.decoder_factorised --batch 2 --device cpu \\
        --out results/benchmarks/decoder_factorised_cpu.json

Defaults are the paper's sizes: d = 4096, e = 2 * 64, hidden 512, 2 slots, a 257 × 65 grid.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from audioslots.model import SpatialBroadcastDecoder, fourier_features
from benchmarks.common import PeakMemory, Stopwatch, header, write_result


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=2, help="items per batch")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per form (best kept)")
    parser.add_argument("--slot-dim", type=int, default=4096, help="d, width of the slots")
    parser.add_argument("--fourier-features", type=int, default=64, help="e / 2")
    parser.add_argument("--hidden", type=int, default=512, help="decoder MLP width")
    parser.add_argument("--layers", type=int, default=4, help="decoder linear layers")
    parser.add_argument("--n-slots", type=int, default=2)
    parser.add_argument("--n-freq", type=int, default=257)
    parser.add_argument("--n-frames", type=int, default=65)
    parser.add_argument("--out", type=Path, help="also write the JSON result to this file")
    return parser.parse_args(argv)


def timed(fn, device: torch.device, repeats: int):
    """Best wall time in seconds over ``repeats`` calls (after one warm-up), peak memory, output."""
    with torch.no_grad():
        fn()  # warm-up: kernel selection, allocator caches
        with PeakMemory(device) as memory:
            output = fn()
        times = []
        for _ in range(repeats):
            del output
            with Stopwatch(device) as clock:
                output = fn()
            times.append(clock.seconds)
    return min(times), memory.bytes, output


def run(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    torch.manual_seed(0)
    decoder = SpatialBroadcastDecoder(
        slot_dim=args.slot_dim,
        fourier_features=args.fourier_features,
        fourier_scale=10.0,
        hidden=args.hidden,
        layers=args.layers,
    ).to(device)
    slots = torch.randn(args.batch, args.n_slots, args.slot_dim, device=device)
    positions = fourier_features(args.n_freq, args.n_frames, decoder.fourier_matrix)

    def whole_decoder(factorised: bool):
        def call():
            decoder.factorised = factorised
            return decoder(slots, args.n_freq, args.n_frames)

        return call

    variants = {
        "first_layer": {
            "plain": lambda: decoder.first_layer_plain(slots, positions),
            "factorised": lambda: decoder.first_layer_factorised(slots, positions),
        },
        "decoder": {"plain": whole_decoder(False), "factorised": whole_decoder(True)},
    }
    rows = []
    for part, forms in variants.items():
        results = {form: timed(fn, device, args.repeats) for form, fn in forms.items()}
        (plain_s, plain_bytes, plain_out), (fact_s, fact_bytes, fact_out) = results.values()
        rows.append(
            {
                "part": part,
                "plain_s": plain_s,
                "factorised_s": fact_s,
                "speedup": plain_s / fact_s,
                "plain_peak_bytes": plain_bytes,
                "factorised_peak_bytes": fact_bytes,
                "max_abs_diff": (plain_out - fact_out).abs().max().item(),
                "allclose": torch.allclose(plain_out, fact_out, rtol=1e-4, atol=1e-5),
            }
        )
        del results, plain_out, fact_out
    return {
        **header("decoder_factorised", device),
        "batch": args.batch,
        "n_slots": args.n_slots,
        "grid": [args.n_freq, args.n_frames],
        "slot_dim": args.slot_dim,
        "pe_dim": 2 * args.fourier_features,
        "hidden": args.hidden,
        "layers": args.layers,
        "repeats": args.repeats,
        "peak_memory": "max_memory_allocated" if device.type == "cuda" else "peak RSS increase",
        "rows": rows,
    }


def print_table(result: dict) -> None:
    def mib(n):
        return "n/a" if n is None else f"{n / 2**20:,.0f} MiB"

    print(
        f"device {result['device']} ({result['device_name']}), batch {result['batch']}, "
        f"{result['n_slots']} slots, grid {result['grid'][0]} × {result['grid'][1]}, "
        f"d {result['slot_dim']}, e {result['pe_dim']}, hidden {result['hidden']}"
    )
    header = f"{'part':<12}{'plain':>10}{'factorised':>12}{'speed-up':>10}"
    header += f"{'plain peak':>14}{'fact. peak':>14}  allclose"
    print(header)
    for row in result["rows"]:
        print(
            f"{row['part']:<12}{row['plain_s'] * 1e3:>8.1f}ms{row['factorised_s'] * 1e3:>10.1f}ms"
            f"{row['speedup']:>9.1f}×{mib(row['plain_peak_bytes']):>14}"
            f"{mib(row['factorised_peak_bytes']):>14}  {row['allclose']}"
        )


def main(argv=None) -> int:
    args = parse_args(argv)
    result = run(args)
    print_table(result)
    write_result(result, args.out)
    return 0 if all(row["allclose"] for row in result["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
