"""The engines and what they share: per-component random streams, service-time samplers,
streaming latency histograms, warm-up detection and the run result both engines return."""
