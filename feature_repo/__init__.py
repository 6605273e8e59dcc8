"""Feast definitions built from the active use case's declaration: the single source of the features used for
training and for serving.

This folder holds definitions only: the entities, offline sources and feature views a use case declares
(`pipelines.core.use_case.FeatureView`), as Feast objects. Code that computes the feature tables lives in
`pipelines/features/`.
"""
