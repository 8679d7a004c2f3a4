"""genlab: classic deep generative models (RBM, DBN, up-down DBN, VAE, DCGAN) on MNIST-like images."""

from genlab.version import __version__

__all__ = ["__version__"]
