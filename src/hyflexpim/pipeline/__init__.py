"""Runs the steps, caches each step's output on disk, resumes."""
