"""User-facing errors.

Anything a user can cause (a wrong path, a bad WAV, a mismatched checkpoint, an unknown preset)
raises :class:`AudioSlotsError` with one sentence that names the file and says what is wrong and
what to do. The CLI prints that sentence and exits non-zero; it never shows a traceback for them.
"""


class AudioSlotsError(Exception):
    """A problem with the user's input, explained in one sentence."""


class DataError(AudioSlotsError):
    """A data folder, metadata CSV or WAV file that cannot be used."""


class CheckpointError(AudioSlotsError):
    """A checkpoint that is missing, unreadable or from another configuration."""


class ConfigError(AudioSlotsError):
    """An unknown preset or an invalid option value."""
