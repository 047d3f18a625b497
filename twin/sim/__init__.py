"""The engines and what they share: their input model (`platform_input`; a bare network is
`twin.config.network.NetworkScenario`), service-time samplers, streaming latency histograms,
warm-up detection, the ABR mechanism, and the records and summary both engines fill."""
