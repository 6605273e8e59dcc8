"""Feast wiring: the store configuration chosen from settings, and applying the definitions."""
