"""genlab: classic deep generative models (RBM, DBN, up-down DBN, VAE, DCGAN) on MNIST-like images."""

__version__ = "0.2.0"
