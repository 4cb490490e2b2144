"""Plots with matplotlib: training dynamics (:mod:`minimax.plot.dynamics`), GAN samples
(:mod:`minimax.plot.gan`) and spectra along training (:mod:`minimax.plot.spectra`). Never imported by the core
library: ``import minimax.plot`` explicitly."""

from minimax.plot.dynamics import *  # noqa: F401,F403
from minimax.plot.dynamics import __all__ as _dynamics_all
from minimax.plot.gan import *  # noqa: F401,F403
from minimax.plot.gan import __all__ as _gan_all
from minimax.plot.spectra import *  # noqa: F401,F403
from minimax.plot.spectra import __all__ as _spectra_all

__all__ = list(_dynamics_all) + list(_gan_all) + list(_spectra_all)
