"""Edges: the command line and settings (the HTTP service will live here too)."""
