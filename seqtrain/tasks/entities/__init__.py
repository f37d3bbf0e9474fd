"""Named entities: a tagger of entity spans, built on the POS task."""
