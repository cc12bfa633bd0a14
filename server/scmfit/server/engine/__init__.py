"""Where work runs: admission lanes, the worker pool, the worker link and the fit plan."""
