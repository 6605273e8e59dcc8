"""The event store and what writes to it: landings, the data contract, the prediction log format, labels."""
