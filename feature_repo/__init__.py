"""Feast definitions: the single source of the features used for training and for serving.

This folder holds declarations only (Feast imports every module in it). Code that computes the
feature tables lives in `pipelines/`.
"""
