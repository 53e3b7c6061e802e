"""Acquisition: the scoring pass, strategies and their registry, centre finding, and the one
acquisition step (score the pool, select, persist) that every caller runs."""
