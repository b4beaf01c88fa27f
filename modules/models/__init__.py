"""A1111's `modules.models` package: the model families of its LDM backend (see the modules below)."""
