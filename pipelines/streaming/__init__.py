"""The stream of answered (and landed) transactions, and the worker that keeps the streamed feature views fresh."""
