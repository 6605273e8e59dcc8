"""PostgreSQL in the cluster: one login role per component, and the migration that makes them.

The chart's database runs as a bootstrap superuser that only the PostgreSQL container and the migration job
know; every other pod logs in as the role of what it does (`roles`), with the least that lets it do it.
"""
