"""Importers: official code set files into content files."""
