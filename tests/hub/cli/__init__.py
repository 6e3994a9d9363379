"""Tests of hub.cli."""
