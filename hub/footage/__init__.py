"""Footage: the files on disk, the recordings index, retention, export and encryption at rest."""
