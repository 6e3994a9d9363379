"""Extension machinery: the plugin manager, the types plugins contribute, typed config sections."""
