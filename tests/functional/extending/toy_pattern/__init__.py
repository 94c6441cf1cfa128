"""A toy pattern outside the package: registered by its test with one line, like a pattern of the blueprint."""
