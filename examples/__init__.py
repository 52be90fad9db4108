"""Example flows, shipped with the package for `superflow demo`."""
