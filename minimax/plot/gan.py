"""Plots of GAN training on mixtures of Gaussians: generator samples over the modes, decision surfaces."""

__all__: list[str] = []
