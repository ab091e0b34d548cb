"""Placeholder: this method is being integrated."""
