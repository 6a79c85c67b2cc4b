"""Inzoomen: a live virtual event hall for short career conversations."""
