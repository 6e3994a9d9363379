"""Tests of hub.cameras."""
