"""The bottom layer: errors, config fields and loading, data paths, text files, vocabularies,
checkpoint files and devices. Nothing here imports anything above it."""
