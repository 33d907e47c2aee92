"""The LibriMix folder layout: where each file of a split lies, and the metadata CSVs that list them.

The LibriMix generator (Cosentino et al. 2020) writes::

    <root>/wav{8k,16k}/{min,max}/<split>/{mix_clean,s1,s2[,s3]}/<mixture_ID>.wav
    <root>/wav{8k,16k}/{min,max}/metadata/mixture_<split>_mix_clean.csv

where ``root`` is the ``Libri2Mix`` (or ``Libri3Mix``) folder, and each CSV row is
``mixture_ID,mixture_path,source_1_path,source_2_path[,source_3_path],length`` with absolute
paths. The reader (:mod:`~audioslots.data.dataset`) and both builders
(:mod:`~audioslots.data.mix_librispeech`, :mod:`~audioslots.data.synthetic`) take their names and
columns from here.
"""

from __future__ import annotations

import csv
import os
import secrets
from pathlib import Path

from audioslots.errors import DataError

#: The LibriMix splits (the paper trains on ``train-360``).
SPLITS = ("train-360", "train-100", "dev", "test")
#: The splits this package's builders write by default (the paper's training split, dev and test).
BUILT_SPLITS = ("train-360", "dev", "test")
#: LibriMix modes, ``"min"`` (utterances cut to the shortest source) or ``"max"`` (zero-padded).
MODES = ("min", "max")
#: How tables name the data a run used, by its builder (``source`` of the run's data record); a
#: LibriMix folder built elsewhere is ``LibriMix``. The paper's values belong to real speech only.
DATA_LABELS = {"real": "real speech (LibriSpeech mini)", "synthetic": "synthetic"}
#: Where the embedded data sets are built, relative to a checkout (``audioslots.pipeline.prepare_data``).
EMBEDDED_ROOTS = {"real": Path("data/real/Libri2Mix"), "synthetic": Path("data/synthetic/Libri2Mix")}


def embedded_source(root: str | Path) -> str | None:
    """The embedded data set (``real`` or ``synthetic``) a data folder is, by where it lies in a checkout
    (:data:`EMBEDDED_ROOTS`, in any checkout), or ``None`` for a LibriMix folder built elsewhere."""
    parts = Path(root).parts
    return next((name for name, where in EMBEDDED_ROOTS.items()
                 if parts[-len(where.parts):] == where.parts), None)


def wav_folder(sample_rate: int) -> str:
    """LibriMix's name for the folder of one sample rate: ``wav16k`` for 16000 Hz.

    Args:
        sample_rate: In Hz; a whole number of kHz.

    Returns:
        The folder name.
    """
    if sample_rate <= 0 or sample_rate % 1000:
        raise DataError(
            f"LibriMix has folders for whole kHz rates (wav8k, wav16k), not {sample_rate} Hz; "
            f"use --sample-rate 8000 or 16000."
        )
    return f"wav{sample_rate // 1000}k"


def metadata_path(
    root: str | os.PathLike, split: str, *, sample_rate: int = 16000, mode: str = "min"
) -> Path:
    """Where LibriMix keeps the metadata CSV of ``split``.

    Args:
        root: The folder that holds ``wav16k/`` (e.g. ``.../Libri2Mix``).
        split: One of :data:`SPLITS`.
        sample_rate: In Hz.
        mode: ``"min"`` or ``"max"``.

    Returns:
        ``<root>/wavXk/<mode>/metadata/mixture_<split>_mix_clean.csv``.
    """
    folder = Path(root) / wav_folder(sample_rate) / mode / "metadata"
    return folder / f"mixture_{split}_mix_clean.csv"


def source_columns(n_src: int) -> list[str]:
    """CSV columns of the reference sources: ``source_1_path`` ... ``source_<n_src>_path``."""
    return [f"source_{k}_path" for k in range(1, n_src + 1)]


def metadata_columns(n_src: int) -> list[str]:
    """The columns of a metadata CSV: ``mixture_ID,mixture_path,source_1_path,...,length``."""
    return ["mixture_ID", "mixture_path", *source_columns(n_src), "length"]


def read_metadata(csv_path: Path, n_src: int) -> list[dict[str, str]]:
    """Rows of a LibriMix metadata CSV, after checking its columns and lengths.

    Raises:
        DataError: The CSV cannot be read, lacks a column, has one source column too many, lists
            a length that is not a whole number, or lists no mixture.
    """
    try:
        with open(csv_path, newline="") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(
            f"Cannot read the metadata CSV {csv_path} ({error}); re-create it."
        ) from None
    expected = metadata_columns(n_src)
    missing = [c for c in expected if c not in columns]
    if missing:
        raise DataError(
            f"The metadata CSV {csv_path} lacks the column(s) {', '.join(missing)} "
            f"(it has {', '.join(columns) or 'none'}); expected {','.join(expected)}."
        )
    extra = f"source_{n_src + 1}_path"
    if extra in columns:
        raise DataError(
            f"The metadata CSV {csv_path} has a {extra} column, so its mixtures have more than "
            f"{n_src} sources; use --n-src {n_src + 1} (Libri3Mix) or the Libri{n_src}Mix folder."
        )
    for line, row in enumerate(rows, start=2):
        if not (row["length"] or "").strip().isdigit():
            raise DataError(
                f"The metadata CSV {csv_path} has length {row['length']!r} on line {line}, "
                f"which is not a whole number of samples; re-create the CSV."
            )
    if not rows:
        raise DataError(f"The metadata CSV {csv_path} lists no mixtures; re-create it.")
    return rows


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    """Write a metadata CSV (``header``, then ``rows``) atomically; missing folders are created.

    The file is written next to its destination under a temporary name and then renamed, so a
    reader never sees half a CSV, and an interrupted build leaves the previous one (or none).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not tempfile.mkstemp: its files are private (0600), while the umask should decide.
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temp, "x", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path
