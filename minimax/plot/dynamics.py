"""Plots of training dynamics: phase portraits, convergence curves, spectra, simplex trajectories."""

__all__: list[str] = []
