"""Runnable example services built on vlens-async; each folder has its own tests."""
