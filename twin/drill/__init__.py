"""Drills: the twin's workload, scaled down and time-compressed, drives a real platform.

    wire       the plan and the load processes' records on disk (stdlib only; locustfiles read it)
    plan       the scaled, compressed workload per drill second (users, rates, live shares)
    rider_pool the Faker rider pool with tokens signed for the target
    target     the local `twin serve` child process, and a small client for any host
    loadgen    Locust as separate processes (headless, or master and workers)
    incidents  the scenario's incidents as fault-injection calls at compressed times
    measure    the load generators' HdrHistograms and Locust's CSV statistics, merged
    lag        the measured leaderboard lag from the target's /metrics
    tracking   achieved against requested riders and request rate (and tracking.csv)
    timeline   timeseries.csv: per window and request type, counts, percentiles, lag
    summary    summary.json with the keys of a simulated run and `engine: "drill"`
    predict    predicted.json, the model's figures for the drill's workload and machine
    fit        fitting service times to measured latencies (pure)
    calibration `twin calibrate` over drills: measured CPU, a cv search, per-type delays
    run        `run_drill`, the whole drill in order; its report.html (measured beside
               predicted, the load shape) is drawn by `twin.report.drill_page`

Only `locustfiles/` imports locust; nothing here does.
"""

__all__: list[str] = []
