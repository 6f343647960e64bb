"""Infrastructure every layer may use: input checks with their limits (`validate`), files
written atomically and results loaded safely (`io`), the jit wrapper with the CPU compile option
(`compile`), sharding over devices and processes (`parallel`) and statistics (`stats`: Welch's
t-test, bootstrap CIs, IQM, normalized scores). Imports nothing from snnjax outside `core`.
"""
