"""Tests of hub.config."""
