"""Robot model builders (one module per engine that needs one)."""
