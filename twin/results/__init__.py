"""Results: the summary model, SLO verdicts, the CI gate, comparison of designs, capacity
search, and writing a run's files. Pure calculation over summaries, plus atomic file writing.

    base         the base of every summary block (strict, keeps key order), numbers, intervals
    stats        per-service and per-request-type blocks (latency, wait, counts)
    blocks       experience, usage, cost, incidents, SLO verdicts, queueing theory
    drill_blocks the `drill` block of a drill's summary, and a prediction's
    summary      `Summary`: summary.json as one typed model
    schema_doc   the README's table of summary keys, made from the model's JSON Schema
    slo          objectives read, checked and reported
    gate         the CI gate's checks and JUnit XML
    compare      designs side by side
    capacity     the largest load meeting every SLO (bisection), and capacity.json
    files        where a run's files go, written atomically
    openmetrics  a run's time series as OpenMetrics text, for promtool and Grafana
"""
