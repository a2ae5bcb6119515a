"""Background care of the store: checkpoints, journal trimming and hot snapshots."""
