"""Learning: the smp model factory and checkpoints, training, augmentation, metrics."""
