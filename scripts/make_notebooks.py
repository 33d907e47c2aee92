"""Write the parameterised notebooks of notebooks/ from this one readable source.

Notebook JSON is hard to review; the cells live here as plain text. Run
``python scripts/make_notebooks.py`` after editing, and commit both.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

PARAMETERS = '''\
preset = "cpu"        # cpu (default, minutes on 2 cores), paper (GPU server), tiny (smoke test)
data_root = ""        # empty: the embedded synthetic set; else a LibriMix folder holding wav16k/
run_dir = "results/cpu"
device = "auto"       # auto, cpu or cuda
seed = 0
progress = True'''


def md(text):
    return new_markdown_cell(text.strip())


def code(text, tags=()):
    cell = new_code_cell(text.strip())
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def notebook(name, cells):
    # Stable cell ids (nbformat draws random ones): regenerating changes only what was edited.
    for index, cell in enumerate(cells):
        cell["id"] = f"{name}-{index:02d}"
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def parameters():
    return code(PARAMETERS, tags=["parameters"])


PREPROCESSING = [
    md("""
# 1. Preprocessing

The paper's pipeline starts from a mixture waveform at 16 kHz (PAPER.md, Pipeline 1): a random
0.5 s crop, an STFT with a 512-sample window and hop 125, the magnitude, and the compression
$|X|^{0.3}$. Every reference source gets the same crop and transform. This page walks through
those steps on one test mixture of the data this run used.
"""),
    parameters(),
    code("""
# Figures become PNG outputs of the notebook, which the book shows.
%matplotlib inline
from IPython.display import Audio, display
from myst_nb import glue

from audioslots import plots
from audioslots.data import LibriMix
from audioslots.features import chunk, spectrogram
from audioslots.model import AudioSlots
from audioslots.reproduce import prepare_data, resolve_preset

config = resolve_preset(preset, seed)
features = config.features
root, data_info = prepare_data(data_root, seed, progress=progress)
example = LibriMix(root, "test")[0]
data_info["source"], example.mixture_id
"""),
    md("## A mixture and its sources"),
    code("""
plots.waveforms(example.mixture, example.sources, features.sample_rate, title=example.mixture_id)
"""),
    code("""
for name, audio in [("mixture", example.mixture), *((f"source {i + 1}", s) for i, s in enumerate(example.sources))]:
    print(name)
    display(Audio(audio.numpy(), rate=features.sample_rate))
"""),
    md("""
## Crop, STFT and compression

A 0.5 s crop is {glue:text}`chunk_samples` samples. The centred STFT gives
{glue:text}`n_freq` frequency bins × {glue:text}`n_frames` frames. Compression with the power
0.3 lifts the quiet bins that carry most of the spectrogram's area, so that the mean squared error
does not only see the loudest harmonics.
"""),
    code("""
crop = chunk(example.mixture, features.chunk_samples)[1]
compressed = spectrogram(crop, features)
glue("chunk_samples", features.chunk_samples, display=False)
glue("n_freq", compressed.shape[0], display=False)
glue("n_frames", compressed.shape[1], display=False)
plots.preprocessing_steps(crop, features)
"""),
    md("""
## The encoder's 32 × 8 grid

The ResNet's root block keeps full resolution and its three later stages halve it, a total stride
of 8. Dropping the Nyquist bin and the last frame (a [choice], see *Deviations*) leaves 256 × 64,
hence a grid of 32 × 8 feature vectors z that the transformer's slots attend to.
"""),
    code("""
grid = AudioSlots(config.model).eval().encoder_features(compressed[None])
print("encoder feature grid z:", tuple(grid.shape), "(batch, channels, freq cells, time cells)")
plots.encoder_grid(compressed, tuple(grid.shape[-2:]))
"""),
    md("""
## Chunking a long mixture

At test time the whole utterance is cut into non-overlapping 0.5 s chunks, the last one
zero-padded; each chunk is separated on its own and the results are stitched back together.
"""),
    code("""
chunks = chunk(example.mixture, features.chunk_samples)
print(f"{example.mixture.shape[-1]} samples → {tuple(chunks.shape)} (chunks, samples)")
plots.chunking(example.mixture, features)
"""),
]

TRAINING = [
    md("""
# 2. Training

AudioSlots (one slot per source) and the autoencoder (the same network with one slot, fed a single
source) are trained with Adam, a linear warm-up and a cosine decay (PAPER.md, Pipeline 5), on
random crops of the training split. The 1 s ablation trains the same network on 1 s crops.
Each run resumes from its checkpoint if this notebook is executed again.
"""),
    parameters(),
    code("""
# Figures become PNG outputs of the notebook, which the book shows.
%matplotlib inline
import pandas as pd
from myst_nb import glue

from audioslots import plots
from audioslots.report import model_summary, transformer_sizes
from audioslots.reproduce import RUNS, evaluate_runs, prepare_data, resolve_preset, train_run

config = resolve_preset(preset, seed)
root, data_info = prepare_data(data_root, seed, progress=progress)
config.train
"""),
    md("## The networks: size and cost"),
    code("""
sizes = model_summary([config.name, "paper"])
glue("model_sizes", sizes)
"""),
    md("""
The paper's queries and slots have dimension 4096 but it gives no attention width. Read
literally, a 4096-wide transformer is enormous; we attend at width 512 and project in and out
of the 4096-dimensional slot space (see *Deviations*):
"""),
    code("""
transformers = transformer_sizes()
for key, millions in zip(("ours", "literal"), transformers["parameters (M)"]):
    glue(f"transformer_{key}_params_m", millions, display=False)
transformers
"""),
    md("## Training runs"),
    code("""
results = {name: train_run(name, config, root, run_dir, device=device, data_info=data_info, progress=progress)
           for name in RUNS}
pd.DataFrame([{"run": name, "steps": r.step, "final loss": r.final_loss, "steps/s (this call)": r.steps_per_second}
              for name, r in results.items()])
"""),
    md("""
## Loss curves

Matched MSE on compressed magnitudes (AudioSlots) and plain MSE (the autoencoder, one slot),
averaged over each logging window.
"""),
    code("""
logs = pd.concat([pd.read_csv(f"{run_dir}/{name}/log.csv").assign(run=name) for name in RUNS])
plots.loss_curves(logs)
"""),
    md("""
## Evaluation of the separators

Every test mixture is separated chunk by chunk. As in the paper, the slot order of each chunk is
matched to the ground truth (`oracle` order); we also score the ground-truth-free `continuity`
order, which a real user would have to use.
"""),
    code("""
metrics = evaluate_runs([("AudioSlots", 0.5), ("AudioSlots", 1.0)], root, run_dir, data_info=data_info,
                        progress=progress)
metrics.groupby(["system", "chunk_seconds", "order", "mask"])[["si_snr", "si_snri"]].mean().round(2)
"""),
]

BASELINES = [
    md("""
# 3. Baselines: Oracle and Autoencoder

**Oracle** masks come from the preprocessed ground-truth sources (same chunking, STFT and
compression round trip): the ceiling this lossy pipeline allows. **Autoencoder**: the network
trained with one slot reconstructs each source from itself, and those reconstructions become the
masks. It measures how much spectrogram detail the architecture can represent at all.
"""),
    parameters(),
    code("""
from audioslots.reproduce import evaluate_runs, prepare_data

root, data_info = prepare_data(data_root, seed, progress=progress)
metrics = evaluate_runs([("Oracle", 0.5), ("Oracle", 1.0), ("Autoencoder", 0.5)], root, run_dir,
                        data_info=data_info, progress=progress)
metrics.groupby(["system", "chunk_seconds", "mask"])[["si_snr", "si_snri"]].mean().round(2)
"""),
]

RESULTS = [
    md("""
# 4. Results: Table 1

Table 1 of the paper, regenerated from the per-mixture metrics of this run, beside the paper's own
figures. Means over sources and mixtures, ± the half-width of the 95 % confidence interval over
mixtures.
"""),
    parameters(),
    code("""
# Figures become PNG outputs of the notebook, which the book shows.
%matplotlib inline
import pandas as pd
from IPython.display import Markdown, display
from myst_nb import glue

from audioslots import plots, report
from audioslots.reproduce import load_metrics, write_table1

pd.set_option("display.max_colwidth", None)  # provenance values are shown whole

summary = write_table1(run_dir)
metrics = load_metrics(run_dir)
"""),
    md("## Which run this page shows"),
    code("""
glue("provenance", report.provenance_table(run_dir))
"""),
    md("## Table 1"),
    code("""
glue("table1", report.table1_beside_paper(metrics, "results/paper_table1.csv"))
"""),
    md("""
The paper's figures survive in our copy of its text only as integer dB parts ("12.x"): they are
shown as such, never with invented decimals.

## How far AudioSlots is from the autoencoder

The paper finds AudioSlots within 0.18 ± 0.01 dB of the autoencoder: separation itself is learned
well, and what limits both is the decoder's detail. Ours, per mask (SI-SNRi, oracle order;
`gap_db` = autoencoder − AudioSlots, the mean of the per-mixture differences, positive when
AudioSlots is below its autoencoder ceiling):
"""),
    code("""
gap = report.gap(metrics)
for _, row in gap.iterrows():
    glue(f"gap_{row['mask']}", row["gap_db"], display=False)
gap
"""),
    md("## Does the reproduction show the paper's findings?"),
    code("""
glue("status", report.status_table(metrics))
"""),
    md("## Per-mixture distributions"),
    code("""
plots.metric_distributions(metrics)
"""),
]

FIGURE2 = [
    md("""
# 5. Figure 2: what the decoder reconstructs

For a few test mixtures (columns): the input mixture, then for each source its ground truth, the
autoencoder's reconstruction and AudioSlots' estimate, as compressed magnitude spectrograms of one
chunk with one shared colour scale. The paper sees harmonics reconstructed well and high
frequencies blurred (the outlined region).
"""),
    parameters(),
    code("""
# Figures become PNG outputs of the notebook, which the book shows.
%matplotlib inline
from IPython.display import Audio, Markdown, display

from audioslots import plots, report
from audioslots.data import LibriMix
from audioslots.reproduce import load_models, prepare_data, resolve_preset

features = resolve_preset(preset, seed).features
root, _ = prepare_data(data_root, seed, progress=progress)
test = LibriMix(root, "test")
models = load_models(run_dir)
columns = [report.figure2_column(test[i], models, features, chunk_index=1) for i in range(3)]
plots.figure2(columns, features.sample_rate, features.hop_samples)
"""),
    md("""
## Listen

The mixture, the references and AudioSlots' separated sources (0.5 s model, oracle chunk order as
in the paper) with both masks.
"""),
    code("""
for index in range(2):
    for name, audio in report.listening_examples(test[index], models["audioslots_0.5s"], features).items():
        display(Markdown(f"**{test[index].mixture_id} — {name}**"), Audio(audio, rate=features.sample_rate))
"""),
]


def main():
    NOTEBOOKS.mkdir(exist_ok=True)
    for name, cells in [("01_preprocessing", PREPROCESSING), ("02_training", TRAINING), ("03_baselines", BASELINES),
                        ("04_results", RESULTS), ("05_figure2", FIGURE2)]:
        nbformat.write(notebook(name, cells), NOTEBOOKS / f"{name}.ipynb")


if __name__ == "__main__":
    main()
