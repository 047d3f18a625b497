"""The fluid engine: request flows per tick for millions of riders, latency from queueing laws.

flow            stations and sources as per-tick counts (the SimPy processes)
latency         each tick's latency law: pointwise-stationary M/M/c or M/G/c plus fluid backlog
service         that law on the histogram's bin edges, and service-time sampling
collect         per-tick laws folded into the per-interval records both engines share
probes          end-to-end latency from sampled probe requests walking the network
network         a bare `kind: network` scenario
autoscale       a service's reactive autoscaler
platform_flows  a compiled connected-fitness platform's flows solved per tick (autoscaling,
                shards, CDN, database), and the probe network over them
experience      what a platform run means for riders and the bill: lag, joins, video, usage
platform        a compiled platform's run: replications, summary and time series
engine          `run_fluid`, the entry point
"""

from twin.sim.fluid.engine import run_fluid

__all__ = ["run_fluid"]
