"""The training updates, one per procedure, in the form of the textbook: plain PyTorch, no I/O.

* :mod:`~genlab.algorithms.cd` — CD-k and persistent CD for an RBM, with momentum and weight decay;
* :mod:`~genlab.algorithms.dbn` — greedy training of a DBN's top RBM, and the up-down (wake-sleep) step;
* :mod:`~genlab.algorithms.vae` — the VAE's negative ELBO and its Adam step;
* :mod:`~genlab.algorithms.gan` — the DCGAN's discriminator and generator steps.

Each function updates a model on one minibatch and draws its random numbers from the
stream it is given. The loops over epochs and minibatches are in :mod:`genlab.training`;
the fast paths (:mod:`genlab.accel`) run these same steps compiled, or replace them with
kernels that compute the same update.
"""
