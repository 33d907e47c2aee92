"""The book's verdicts on the paper's claims: decided by whole intervals, never by touching a bound."""

import numpy as np
import pandas as pd
import pytest

from audioslots.reporting.claims import GAP_TOLERANCE_DB, claims, interval_verdict


@pytest.mark.parametrize("mean, half, expected", [
    (12.5, 0.4, "yes"),        # [12.1, 12.9] inside [12, 13]
    (12.4, 0.4, "yes"),        # lower end exactly on the bound: inside
    (12.3, 0.4, "undecided"),  # [11.9, 12.7] straddles 12
    (11.5, 0.4, "no"),         # [11.1, 11.9] wholly below
    (13.5, 0.4, "no"),         # wholly above
    (12.9, 0.2, "undecided"),  # straddles 13
    (12.5, 5.0, "undecided"),  # a noisy run covering the whole range does not pass
])
def test_interval_verdict_needs_the_whole_interval_inside(mean, half, expected):
    assert interval_verdict(mean, half, 12.0, 13.0) == expected


def test_interval_verdict_with_an_open_end_and_a_missing_measurement():
    assert interval_verdict(0.5, 0.3, 0.0, np.inf) == "yes"
    assert interval_verdict(0.2, 0.3, 0.0, np.inf) == "undecided"
    assert interval_verdict(-0.5, 0.3, 0.0, np.inf) == "no"
    assert interval_verdict(np.nan, 0.3, 0.0, np.inf) == "not in this run"


PAPER = """paper_row,system,chunk_seconds,metric,mask,paper_value,paper_low_db,paper_high_db,precision_note
Oracle,Oracle,0.5,si_snri,ibm,12.x,12,13,
Autoencoder,Autoencoder,0.5,si_snri,ibm,10.x,10,11,
AudioSlots,AudioSlots,0.5,si_snri,ibm,9.x,9,10,
Autoencoder - AudioSlots,Autoencoder - AudioSlots,0.5,gap,unspecified,0.18 ± 0.01,0.17,0.19,
"""


def _metrics(values: dict[str, np.ndarray]) -> pd.DataFrame:
    rows = [{"label": label, "mixture_id": i, "mask": mask, "si_snri": v, "si_snr": v}
            for label, array in values.items() for i, v in enumerate(array) for mask in ("ibm", "wiener")]
    return pd.DataFrame(rows)


def _verdict(table, claim, mask="IBM"):
    row = table[(table["claim of the paper"] == claim) & (table["mask"] == mask)]
    assert len(row) == 1, claim
    return row.iloc[0]


@pytest.fixture
def paper_csv(tmp_path):
    path = tmp_path / "paper.csv"
    path.write_text(PAPER)
    return path


def test_claims_hold_for_a_run_like_the_papers(paper_csv):
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.05, 200)
    run = _metrics({"Oracle": 12.5 + noise, "Autoencoder": 10.1 + noise, "AudioSlots": 10.1 - 0.18 + noise})
    table = claims(run, paper_csv)
    for claim in ("Oracle row as in the paper", "Autoencoder row as in the paper", "AudioSlots row as in the paper",
                  "AudioSlots within 0.18 ± 0.01 dB of the autoencoder",
                  "Oracle > Autoencoder ≥ AudioSlots > mixture"):
        assert _verdict(table, claim)["verdict"] == "yes", claim
    assert not table["claim of the paper"].str.contains("about equal").any()


def test_a_gap_interval_reaching_past_the_tolerance_is_not_a_yes(paper_csv):
    rng = np.random.default_rng(1)
    base = 10.5 + rng.normal(0, 0.05, 100)
    spread = rng.normal(0, 1.0, 100)  # per-mixture differences so noisy that the interval is wide
    run = _metrics({"Oracle": base + 2, "Autoencoder": base, "AudioSlots": base - 0.18 - spread})
    row = _verdict(claims(run, paper_csv), "AudioSlots within 0.18 ± 0.01 dB of the autoencoder")
    low, high = 0.17 - GAP_TOLERANCE_DB, 0.19 + GAP_TOLERANCE_DB
    mean, half = (float(x) for x in row["this run"].removesuffix(" dB").split(" ± "))
    assert (mean - half < low or mean + half > high) and row["verdict"] != "yes"


def test_untrained_networks_fail_their_rows_with_the_measured_reason(paper_csv):
    rng = np.random.default_rng(2)
    noise = rng.normal(0, 0.05, 100)
    run = _metrics({"Oracle": 12.5 + noise, "Autoencoder": 0.1 + noise, "AudioSlots": -1.9 + noise})
    table = claims(run, paper_csv)
    for claim in ("Autoencoder row as in the paper", "AudioSlots row as in the paper",
                  "Oracle > Autoencoder ≥ AudioSlots > mixture"):
        row = _verdict(table, claim)
        assert row["verdict"] == "no" and row["why"] == "why-gap", claim
    assert "decoder" not in " ".join(table["likely reason"])
