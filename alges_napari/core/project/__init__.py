"""The on-disk project: state, labels, checkpoints and cache behind one write gate; export."""
