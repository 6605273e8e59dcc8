"""The bottom layer: settings, errors and the shared contracts every part reads; it imports nothing of ours
outside itself."""
