"""Torch-free result schema, vocabulary and statistics."""
