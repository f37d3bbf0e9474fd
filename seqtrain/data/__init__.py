"""Batch order (shuffling, length buckets, shards), corpus downloads and word vectors."""
