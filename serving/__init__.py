"""KServe model servers: the transformer (online features) and the predictor (the MLflow champion)."""
