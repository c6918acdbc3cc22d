"""Pure functions: domain objects + a localizer -> Adaptive Card dicts (schema 1.5)."""
