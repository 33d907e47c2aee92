"""Reporting: tables and claims from the scores, figures, provenance, and the book built from a run."""
