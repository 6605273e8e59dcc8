"""The KFP v2 pipeline: its components, its definition, the compiler and the cluster wiring of its tasks."""
