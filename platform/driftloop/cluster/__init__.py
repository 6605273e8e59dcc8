"""Cluster mode: the upstream releases `make up` installs, in one place."""
