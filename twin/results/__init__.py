"""Results: the summary model, SLO verdicts, gate, compare, capacity, and file writing."""
