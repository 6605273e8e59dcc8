"""Use cases: each package declares one use case; the platform loads it by name and imports none of them."""
