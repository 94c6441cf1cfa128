"""The six ARC307 patterns, one folder each: component, handlers and a README of its practices."""

__all__: list[str] = []
