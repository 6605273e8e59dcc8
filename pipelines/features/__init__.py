"""Features: the Feast store, the offline tables, point-in-time training sets and the scheduled refresh."""
