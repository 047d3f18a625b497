"""Results: the summary model, SLO verdicts, the CI gate, comparison of designs, capacity
search, and writing a run's files. Pure calculation over summaries, plus atomic file writing."""
