"""Data: reading LibriMix-layout folders, and building them (from LibriSpeech or from synthetic voices).

- :mod:`~audioslots.data.layout`: the LibriMix folder layout and metadata CSVs, read and written;
- :mod:`~audioslots.data.dataset`: reads a LibriMix folder (:class:`~audioslots.data.dataset.LibriMix`);
- :mod:`~audioslots.data.mixing`: LibriMix's mixing recipe, shared by both builders;
- :mod:`~audioslots.data.mix_librispeech`: builds a mini Libri2Mix from LibriSpeech utterances;
- :mod:`~audioslots.data.voices`: synthetic speech-like voices;
- :mod:`~audioslots.data.synthetic`: builds a LibriMix-layout set from those voices.
"""
