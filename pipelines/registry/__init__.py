"""The MLflow side: tracking runs, registered versions and aliases, lineage and the ONNX model artifact."""
