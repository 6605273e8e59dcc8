"""The bottom layer: settings, errors and the contracts every part shares; it imports nothing of ours outside itself."""

__version__ = "0.1.0"
