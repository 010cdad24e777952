"""Slow, obviously-correct reference implementations that every kernel must match."""
