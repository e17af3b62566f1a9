"""musicnn embeddings as a feature set (``features=musicnn``)."""
