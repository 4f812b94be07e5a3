"""Steward: one package for a machine-learning model's whole life cycle."""

__version__ = "0.1.0"
