"""Tabular data synthesis (chapters 10a and 10b): data handling, models and privacy."""
