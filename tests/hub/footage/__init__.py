"""Tests of hub.footage."""
