"""Data: reading LibriMix-layout folders, building them (from LibriSpeech or from synthetic voices), and training batches.

- :mod:`~audioslots.data.dataset` reads a LibriMix folder (:class:`~audioslots.data.dataset.LibriMix`);
- :mod:`~audioslots.data.mix_librispeech` builds one from LibriSpeech utterances by the LibriMix recipe;
- :mod:`~audioslots.data.synthetic` builds one from synthetic speech-like voices.
"""
