"""Configuration: strict models, the YAML source with line numbers, loading and its issues."""
