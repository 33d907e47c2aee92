"""Figure 2 shows mixtures that share no utterance: otherwise two columns show the same speech."""

from audioslots.evaluation.intervals import utterances_of
from audioslots.reporting.figure2 import distinct_utterance_mixtures

#: The first test mixtures of the embedded real-speech set: the first two share their second source.
IDS = ["8238-274553-0000_4267-287369-0000", "2893-139310-0000_4267-287369-0000",
       "1723-141149-0000_8580-287363-0000", "1992-141719-0000_2007-132570-0000",
       "2092-145706-0000_8108-274318-0000", "2007-132570-0000_2092-145706-0000"]


def test_the_chosen_mixtures_share_no_utterance():
    chosen = distinct_utterance_mixtures(IDS, 3)
    assert chosen == [0, 2, 3]
    utterances = [u for i in chosen for u in utterances_of(IDS[i])]
    assert len(utterances) == len(set(utterances))


def test_it_keeps_the_order_and_stops_at_n():
    assert distinct_utterance_mixtures(IDS, 1) == [0]
    assert distinct_utterance_mixtures(IDS, 4) == [0, 2, 3, 4]
    assert distinct_utterance_mixtures(IDS, 0) == []


def test_fewer_when_not_enough_mixtures_are_disjoint():
    assert distinct_utterance_mixtures(["a_b", "b_c", "c_a"], 2) == [0]
    assert distinct_utterance_mixtures([], 3) == []
