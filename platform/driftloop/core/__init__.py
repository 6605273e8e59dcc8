"""The core layer: settings, errors and the contracts every package shares (registry names, the training
request and runner protocol, the configured feature store).

Every package may import it; it imports nothing of ours above it (`make lint` checks the layer contract).
"""
