"""Tests of hub.notify."""
