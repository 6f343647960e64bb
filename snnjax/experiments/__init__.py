"""Experiments and reports: DQN and SNN side by side (`evaluation`), sweeps over T and
percentile (`grid`), the latency study (`latency`), the 17-game benchmark (`benchmark`), the
simulator speed benchmark (`speed`, `snnjax bench`), shipping and campaigns (`ship`,
`campaign`), Markdown tables (`report`) and figures (`plots`, the only module that imports
matplotlib). May import every lower layer; only `snnjax.cli` imports it.
"""
