"""Exports package."""
