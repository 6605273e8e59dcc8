"""KFP v2 components and pipelines: validate, build the training set, train, evaluate, gate, register."""
