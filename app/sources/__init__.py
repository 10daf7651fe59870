"""Original human sources: where the human data entered, and whether it is still within reach."""
