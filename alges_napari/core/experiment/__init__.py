"""Simulated active learning with a ground-truth oracle: settings, the loop, its store, curves."""
