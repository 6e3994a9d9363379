"""Detection: frames for detectors, motion and object loops, tracking, masks, snapshots."""
