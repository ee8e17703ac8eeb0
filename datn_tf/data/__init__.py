"""Readers for the official data files; each returns plain Python/NumPy structures."""
