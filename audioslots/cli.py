"""The ``audioslots`` command: thin wrappers over the library functions the notebooks call."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from audioslots.audio import load_for_model, write_wav
from audioslots.cli_options import add_set_option, settings_of
from audioslots.config import PRESETS, FeatureConfig, apply_settings, features_from_dict, get_preset
from audioslots.data.dataset import LibriMix
from audioslots.data.layout import MODES
from audioslots.data.mix_librispeech import build_librimix
from audioslots.data.synthetic import synthesize_librimix
from audioslots.errors import AudioSlotsError, ConfigError
from audioslots.evaluation.learning_curve import score_checkpoints
from audioslots.evaluation.scores import evaluate, evaluate_checkpoint, table1
from audioslots.features import FRAMINGS, chunk_hop
from audioslots.masks import MASKS
from audioslots.kinds import MODEL_KINDS, ORACLE, kind_of
from audioslots.separate import ORDERS
from audioslots.training import TrainingStopped, load_model, resolve_device, train

SAMPLE_RATES = (8000, 16000)


def _add_data_options(parser: argparse.ArgumentParser, split_default: str | None) -> None:
    parser.add_argument("--data", required=True, metavar="ROOT",
                        help="LibriMix folder that holds wav16k/ (or wav8k/), e.g. /data/Libri2Mix")
    if split_default is None:
        parser.add_argument("--split", required=True, help="train-360, train-100, dev or test")
    else:
        parser.add_argument("--split", default=split_default, help=f"LibriMix split (default {split_default})")
    parser.add_argument("--sample-rate", type=int, default=16000, choices=SAMPLE_RATES,
                        help="picks wav16k/ or wav8k/ (default 16000)")
    parser.add_argument("--mode", default="min", choices=MODES, help="LibriMix mode folder (default min)")
    parser.add_argument("--n-src", type=int, default=2, choices=(2, 3), help="sources per mixture (default 2)")


def _add_framing_option(parser: argparse.ArgumentParser, default_text: str) -> None:
    parser.add_argument("--framing", choices=FRAMINGS,
                        help=f"STFT framing: pad-end (tf.signal.stft, the authors' toolkit) or centred (default: {default_text})")


def _add_overlap_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--chunk-overlap", type=float, default=0.0, metavar="FRACTION",
                        help="share of a chunk that consecutive chunks overlap, cross-faded (default 0: the paper's "
                             "non-overlapping chunks; e.g. 0.5)")


def _atomic_csv(frame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)


def cmd_synth_data(args: argparse.Namespace) -> None:
    root = synthesize_librimix(args.out, seed=args.seed, progress=not args.no_progress)
    print(f"Synthetic Libri2Mix-layout data in {root}")


#: The fields of the preset that ``audioslots train`` names an option for, by the option's ``dest``
#: (any other field: ``--set KEY=VALUE``).
TRAIN_OPTIONS = {"chunk_seconds": "chunk_seconds", "framing": "framing", "steps": "steps", "batch_size": "batch_size",
                 "lr": "learning_rate", "warmup_steps": "warmup_steps", "seed": "seed", "num_workers": "num_workers",
                 "autocast": "autocast", "clip_grad_norm": "clip_grad_norm", "checkpoint_minutes": "checkpoint_minutes",
                 "max_nonfinite_steps": "max_nonfinite_steps", "decoded_cells": "decoded_cells",
                 "dynamic_mixing": "dynamic_mixing"}


def train_settings(args: argparse.Namespace) -> dict[str, object]:
    """The settings of ``audioslots train``'s options: the named options given, then ``--set``.

    A batch size given either way wins over the preset's ``batch_seconds`` unless that is set too.
    """
    settings = {field: getattr(args, dest) for dest, field in TRAIN_OPTIONS.items() if getattr(args, dest) is not None}
    settings.update(settings_of(args))
    fields = {key.rpartition(".")[2] for key in settings}
    if "batch_size" in fields and "batch_seconds" not in fields:
        settings["batch_seconds"] = None
    return settings


def cmd_train(args: argparse.Namespace) -> None:
    preset = apply_settings(get_preset(args.preset), train_settings(args))
    dataset = LibriMix(args.data, args.split, n_src=args.n_src, sample_rate=args.sample_rate, mode=args.mode)
    try:
        result = train(preset, dataset, args.out, kind=args.model, device=args.device, progress=not args.no_progress,
                       compile=args.compile)
    except TrainingStopped as stopped:  # preempted: exit as the signal would have, after checkpointing
        if os.environ.get("RANK", "0") == "0":
            print(f"audioslots train: {stopped}", file=sys.stderr)
        sys.exit(128 + stopped.signal_number)
    if os.environ.get("RANK", "0") == "0":  # torchrun: one summary, from the process that wrote the files
        print(f"Trained {args.model} to step {result.step} in {result.run_dir} "
              f"(final loss {result.final_loss:.4f}, {result.steps_per_second:.2f} steps/s this call)")


def cmd_evaluate(args: argparse.Namespace) -> None:
    dataset = LibriMix(args.data, args.split, n_src=args.n_src, sample_rate=args.sample_rate, mode=args.mode,
                       max_mixtures=args.max_mixtures)
    if args.oracle:
        features = FeatureConfig(sample_rate=args.sample_rate, chunk_seconds=args.chunk_seconds or 0.5,
                                 framing=args.framing or FeatureConfig.framing)
        metrics = evaluate(ORACLE.system, dataset, features, power=args.wiener_power, chunk_overlap=args.chunk_overlap,
                           progress=not args.no_progress)
    else:
        metrics = evaluate_checkpoint(args.checkpoint, dataset, orders=(args.order,), power=args.wiener_power,
                                      framing=args.framing, chunk_overlap=args.chunk_overlap,
                                      chunk_seconds=args.chunk_seconds, device=resolve_device(args.device),
                                      progress=not args.no_progress)
    _atomic_csv(metrics, Path(args.out))
    print(table1(metrics).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"Per-mixture metrics in {args.out}")


def cmd_separate(args: argparse.Namespace) -> None:
    model, config = load_model(args.checkpoint, resolve_device(args.device))
    kind = kind_of(config["model_kind"])
    if not kind.separates_mixtures:
        raise ConfigError(f"{args.checkpoint} holds the {kind.system} network, which reconstructs single sources; "
                          "separation needs an AudioSlots or Conv-TasNet checkpoint.")
    features = features_from_dict(config["preset"]["features"])
    if args.framing:
        features = dataclasses.replace(features, framing=args.framing)
    mixture, restore = load_for_model(args.mixture, features.sample_rate, notice=print)
    hop = chunk_hop(features.chunk_samples, args.chunk_overlap)
    sources = kind.separate(model, mixture, features, mask=args.mask, power=args.wiener_power, hop_samples=hop)
    out = Path(args.out_dir)
    for i, source in enumerate(sources, start=1):
        rate, samples = restore(source)
        write_wav(out / f"{Path(args.mixture).stem}_s{i}.wav", samples, rate)
    print(f"Wrote {len(sources)} sources to {out}")


def cmd_mix_librispeech(args: argparse.Namespace) -> None:
    root = build_librimix(args.speech_dir, args.out, n_src=args.n_src, seed=args.seed,
                          mixtures={"train-360": args.train_mixtures, "dev": args.dev_mixtures,
                                    "test": args.test_mixtures},
                          dev_fraction=args.dev_speakers, test_fraction=args.test_speakers,
                          progress=not args.no_progress)
    print(f"Libri{args.n_src}Mix layout (16 kHz, min mode) in {root}")


def cmd_score_checkpoints(args: argparse.Namespace) -> None:
    dataset = LibriMix(args.data, args.split, n_src=args.n_src, sample_rate=args.sample_rate, mode=args.mode,
                       max_mixtures=args.mixtures)
    curve = score_checkpoints(args.run_dirs, dataset, args.out, device=resolve_device(args.device),
                              progress=not args.no_progress)
    columns = ["run", "step", "train_flop", "mask", "si_snri", "si_snri_ci", "n_mixtures"]
    print(curve[columns].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"Learning curve in {args.out}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audioslots", description="AudioSlots: slot-centric audio separation "
                                     "(a reproduction of arXiv 2305.05591).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in (_add_synth_data, _add_train, _add_evaluate, _add_separate, _add_mix_librispeech,
                        _add_score_checkpoints):
        add_command(commands)
    return parser


def _add_synth_data(commands) -> None:
    p = commands.add_parser("synth-data", help="write the embedded speech-like data set in the LibriMix layout")
    p.add_argument("out", metavar="OUT", help="folder to create (it will hold wav16k/min/...)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0); the same seed gives the same data")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_synth_data)


def _add_train(commands) -> None:
    p = commands.add_parser("train", help="train AudioSlots or the autoencoder; re-run the same command to resume")
    _add_data_options(p, "train-360")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder (config, checkpoint, log.csv)")
    p.add_argument("--preset", default="cpu", help=f"one of {', '.join(PRESETS)} (default cpu)")
    p.add_argument("--model", default="audioslots", choices=MODEL_KINDS,
                   help="audioslots separates; autoencoder (n = 1) reconstructs single sources; convtasnet: the "
                        "Conv-TasNet peer (not in the paper), waveforms in and out, trained on its own crops")
    p.add_argument("--chunk-seconds", type=float, help="crop/chunk length in seconds (preset: 0.5)")
    _add_framing_option(p, "the preset's: pad-end")
    p.add_argument("--steps", type=int, help="total training steps (overrides the preset)")
    p.add_argument("--batch-size", type=int, help="crops per batch (overrides the preset, whatever the chunk length; "
                   "convtasnet: as many of its own crops as hold that many chunks' audio)")
    p.add_argument("--lr", type=float, help="peak learning rate (overrides the preset)")
    p.add_argument("--warmup-steps", type=int, help="linear warm-up steps (overrides the preset)")
    p.add_argument("--seed", type=int, help="random seed (overrides the preset)")
    p.add_argument("--num-workers", type=int, help="data-loading processes (overrides the preset)")
    p.add_argument("--device", default="auto",
                   help="auto (CUDA if available), cpu or cuda; under torchrun each process takes cuda:LOCAL_RANK")
    p.add_argument("--autocast", choices=("auto", "bf16", "off"),
                   help="bf16 autocast: auto = on CUDA only (preset default), bf16 = on the CPU too, off = float32")
    p.add_argument("--clip-grad-norm", type=float, metavar="MAX",
                   help="clip the global gradient norm to MAX (default: no clipping, as the paper)")
    p.add_argument("--checkpoint-minutes", type=float, metavar="M",
                   help="also checkpoint every M minutes (preemptible jobs; default: by steps only)")
    p.add_argument("--max-nonfinite-steps", type=int, metavar="N",
                   help="stop after N steps in a row with a non-finite loss (skipped; default 5)")
    p.add_argument("--decoded-cells", type=float, metavar="FRACTION",
                   help="decode and score this random fraction of the grid per step (an unbiased estimate of the "
                        "loss; default: the preset's, 1.0 for paper)")
    p.add_argument("--dynamic-mixing", type=float, metavar="FRACTION",
                   help="remix this fraction of the training examples on the fly from sources of different speakers "
                        "(a [choice] beyond the paper; default 0: the training mixtures as they are)")
    add_set_option(p)
    p.add_argument("--compile", action="store_true", help="torch.compile the network (for CUDA; slow first steps)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_train)


def _add_evaluate(commands) -> None:
    p = commands.add_parser("evaluate", help="score a checkpoint or the oracle on a split (both masks)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", metavar="CK", help="checkpoint.pt of a trained run")
    source.add_argument("--oracle", action="store_true", help="masks from the preprocessed ground truth")
    _add_data_options(p, None)
    p.add_argument("--chunk-seconds", type=float, help="chunk length for --oracle (default 0.5) or a Conv-TasNet "
                   "checkpoint (default: whole mixtures); an AudioSlots checkpoint fixes its own")
    _add_framing_option(p, "pad-end for --oracle, the checkpoint's otherwise")
    _add_overlap_option(p)
    p.add_argument("--order", default="oracle", choices=ORDERS,
                   help="AudioSlots slot order per chunk: oracle (as the paper) or continuity (no ground truth)")
    p.add_argument("--wiener-power", type=float, default=2.0, help="exponent of the Wiener-like mask (default 2)")
    p.add_argument("--max-mixtures", type=int, help="score only the first N mixtures")
    p.add_argument("--device", default="auto", help="auto (CUDA if available, default), cpu or cuda")
    p.add_argument("--out", required=True, metavar="METRICS.csv", help="per-mixture metrics CSV to write")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_evaluate)


def _add_separate(commands) -> None:
    p = commands.add_parser("separate", help="separate one recording into one WAV per source")
    p.add_argument("mixture", metavar="MIX", help="any file libsndfile reads (WAV, FLAC, OGG, ...), any rate and "
                   "channel count: it is mixed down and resampled to the model's rate; sources are written at the input's rate")
    p.add_argument("--checkpoint", required=True, metavar="CK", help="checkpoint.pt of a trained AudioSlots run "
                   "(or Conv-TasNet run: it separates the whole recording, without chunks or masks)")
    p.add_argument("--out-dir", required=True, metavar="DIR", help="folder for MIX_s1.wav, MIX_s2.wav, ...")
    p.add_argument("--mask", default="wiener", choices=MASKS, help="mask kind (default wiener)")
    p.add_argument("--wiener-power", type=float, default=2.0, help="exponent of the Wiener-like mask (default 2)")
    _add_framing_option(p, "the checkpoint's")
    _add_overlap_option(p)
    p.add_argument("--device", default="auto", help="auto (CUDA if available, default), cpu or cuda")
    p.set_defaults(run=cmd_separate)


def _add_mix_librispeech(commands) -> None:
    p = commands.add_parser("mix-librispeech", help="build a speaker-disjoint LibriMix-layout set from LibriSpeech audio")
    p.add_argument("speech_dir", metavar="SPEECH_DIR", help="folder of LibriSpeech SPEAKER-CHAPTER-UTTERANCE.flac files "
                   "(searched recursively), e.g. data/librispeech-mini")
    p.add_argument("out", metavar="OUT", help="folder to create (it will hold wav16k/min/...), e.g. data/real/Libri2Mix")
    p.add_argument("--n-src", type=int, default=2, choices=(2, 3), help="speakers per mixture (default 2)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0); the same seed gives the same files")
    p.add_argument("--train-mixtures", type=int, default=1000, help="mixtures in train-360 (default 1000)")
    p.add_argument("--dev-mixtures", type=int, default=50, help="mixtures in dev (default 50)")
    p.add_argument("--test-mixtures", type=int, default=100, help="mixtures in test (default 100)")
    p.add_argument("--dev-speakers", type=float, default=0.08, help="share of speakers held out for dev (default 0.08)")
    p.add_argument("--test-speakers", type=float, default=0.16, help="share of speakers held out for test (default 0.16)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_mix_librispeech)


def _add_score_checkpoints(commands) -> None:
    p = commands.add_parser("score-checkpoints", help="score every kept checkpoint of trained runs on a split "
                            "(a learning curve); re-run the same command to resume")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_FOLDER",
                   help="run folder of a trained network (checkpoint_step*.pt and checkpoint.pt), e.g. "
                        "results/real_cpu_x10/audioslots_0.5s")
    _add_data_options(p, "test")
    p.add_argument("--mixtures", type=int, metavar="N", help="score only the first N mixtures (default: all)")
    p.add_argument("--device", default="auto", help="auto (CUDA if available, default), cpu or cuda")
    p.add_argument("--out", required=True, metavar="CSV",
                   help="learning curve to write or complete: one row per run, step and mask, e.g. "
                        "results/real_cpu_x10/learning_curve.csv (rows already there are not scored again)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_score_checkpoints)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except AudioSlotsError as error:
        print(f"audioslots {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"audioslots {args.command}: interrupted; re-run the same command to resume.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
